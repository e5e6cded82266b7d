// A pipe holding 60 KiB nobody has read, its size raised to 1 MiB, both
// ends in one process: the bytes, the size and the ends' flags come back,
// and the pipe works on (it takes a whole 1 MiB again).
#include "pipelib.h"

int main() {
  constexpr size_t kQueued = 60 * 1024, kSize = 1 << 20;
  int p[2];
  RT_CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
  RT_CHECK(fcntl(p[1], F_SETPIPE_SZ, kSize) == int(kSize), "F_SETPIPE_SZ: %s", strerror(errno));
  rt::write_all(p[1], rt::pattern(kQueued, 1), "the queued bytes");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(fcntl(p[0], F_GETPIPE_SZ) == int(kSize), "size %d, want %zu", fcntl(p[0], F_GETPIPE_SZ), kSize);
  RT_CHECK(rt::queued(p[0]) == int(kQueued), "%d bytes queued, want %zu", rt::queued(p[0]), kQueued);
  RT_CHECK((fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY, "the read end is not O_RDONLY");
  RT_CHECK((fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY, "the write end is not O_WRONLY");
  RT_CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "FD_CLOEXEC lost");
  rt::expect_pattern(rt::read_exactly(p[0], kQueued, "the queued bytes"), kQueued, 1, "the queued bytes");
  // Still one pipe of 1 MiB: it takes that much without a reader.
  RT_CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
  rt::write_all(p[1], rt::pattern(kSize, 2), "1 MiB after restore");
  RT_CHECK(write(p[1], "x", 1) < 0 && errno == EAGAIN, "the pipe takes more than 1 MiB");
  rt::expect_pattern(rt::read_exactly(p[0], kSize, "1 MiB after restore"), kSize, 2, "1 MiB after restore");
  rt::pass();
}
