// O_NONBLOCK on the write end only, some bytes queued: after restore the
// write end still says EAGAIN when full and the read end still blocks.
#include <poll.h>

#include "pipelib.h"

int main() {
  constexpr size_t kQueued = 1000;
  int p[2];
  RT_CHECK(pipe(p) == 0, "pipe");
  RT_CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
  rt::write_all(p[1], rt::pattern(kQueued, 4), "the queued bytes");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(fcntl(p[1], F_GETFL) & O_NONBLOCK, "the write end lost O_NONBLOCK");
  RT_CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK), "the read end got O_NONBLOCK");
  int size = fcntl(p[1], F_GETPIPE_SZ);
  RT_CHECK(size == 65536, "size %d", size);
  // Fill it up without blocking; the whole size fits (one page is the
  // queued bytes, which later writes fill up).
  size_t more = 0;
  for (;;) {
    ssize_t n = write(p[1], "y", 1);
    if (n < 0) {
      RT_CHECK(errno == EAGAIN, "write: %s", strerror(errno));
      break;
    }
    RT_CHECK(++more <= size_t(size), "the write end never said EAGAIN");
  }
  RT_CHECK(kQueued + more == size_t(size), "%zu + %zu bytes fit, want %d", kQueued, more, size);
  rt::expect_pattern(rt::read_exactly(p[0], kQueued, "the queued bytes"), kQueued, 4, "the queued bytes");
  std::string ys = rt::read_exactly(p[0], more, "the y's");
  RT_CHECK(ys == std::string(more, 'y'), "the y's came back wrong");
  // Empty now: the read end blocks (poll says nothing to read).
  pollfd pf{p[0], POLLIN, 0};
  RT_CHECK(poll(&pf, 1, 0) == 0, "an empty pipe is readable");
  rt::pass();
}
