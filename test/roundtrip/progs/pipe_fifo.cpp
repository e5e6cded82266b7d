// A FIFO with 3000 bytes in it, opened for reading (O_NONBLOCK) and for
// writing: after restore both ends are on the FIFO again, with the bytes,
// and the FIFO still connects them.  A second FIFO is held only by a
// write end with 100 bytes: a reader that opens it after restore reads them.
#include <sys/stat.h>

#include "pipelib.h"

int main() {
  constexpr size_t kQueued = 3000, kLone = 100;
  const char* path = "pipe_fifo.fifo";
  const char* lone = "pipe_fifo.lone";
  unlink(path);
  unlink(lone);
  RT_CHECK(mkfifo(path, 0600) == 0 && mkfifo(lone, 0600) == 0, "mkfifo: %s", strerror(errno));
  int r = open(path, O_RDONLY | O_NONBLOCK);
  RT_CHECK(r >= 0, "open for reading: %s", strerror(errno));
  int w = open(path, O_WRONLY);
  RT_CHECK(w >= 0, "open for writing: %s", strerror(errno));
  rt::write_all(w, rt::pattern(kQueued, 6), "the queued bytes");
  // The lone writer: it writes while a reader (O_RDWR) has the FIFO open,
  // then that reader goes; the bytes stay while the writer holds it.
  int helper = open(lone, O_RDWR);
  int lw = open(lone, O_WRONLY);
  RT_CHECK(helper >= 0 && lw >= 0, "open %s: %s", lone, strerror(errno));
  rt::write_all(lw, rt::pattern(kLone, 7), "the lone writer's bytes");
  close(helper);
  struct stat before;
  RT_CHECK(fstat(r, &before) == 0, "fstat");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  struct stat now;
  RT_CHECK(fstat(r, &now) == 0 && now.st_ino == before.st_ino && S_ISFIFO(now.st_mode), "the read end is not on %s",
           path);
  // (open() adds the kernel's O_LARGEFILE, 0100000, which glibc calls 0 and
  // anonymous pipes do not show.)
  int rflags = fcntl(r, F_GETFL) & ~0100000, wflags = fcntl(w, F_GETFL) & ~0100000;
  RT_CHECK(rflags == (O_RDONLY | O_NONBLOCK), "read end flags 0%o", rflags);
  RT_CHECK(wflags == O_WRONLY, "write end flags 0%o", wflags);
  RT_CHECK(rt::queued(r) == int(kQueued), "%d bytes queued, want %zu", rt::queued(r), kQueued);
  rt::expect_pattern(rt::read_exactly(r, kQueued, "the queued bytes"), kQueued, 6, "the queued bytes");
  char c;
  RT_CHECK(read(r, &c, 1) < 0 && errno == EAGAIN, "the FIFO is not empty, or its read end blocks");
  rt::write_all(w, "after", "after restore");
  RT_CHECK(rt::read_exactly(r, 5, "after restore") == "after", "the FIFO does not connect its ends");
  // A new reader of the lone FIFO finds its bytes (the writer is there, so
  // the open does not wait).
  int lr = open(lone, O_RDONLY | O_NONBLOCK);
  RT_CHECK(lr >= 0, "open %s: %s", lone, strerror(errno));
  rt::expect_pattern(rt::read_exactly(lr, kLone, "the lone writer's bytes"), kLone, 7, "the lone writer's bytes");
  // (The FIFOs stay: another restore of the same images opens them.)
  rt::pass();
}
