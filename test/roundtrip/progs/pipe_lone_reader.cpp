// A read end alone: its writer closed with 5000 bytes still in the pipe.
// After restore it reads them, then EOF, as it would have.
#include "pipelib.h"

int main() {
  constexpr size_t kQueued = 5000;
  int p[2];
  RT_CHECK(pipe(p) == 0, "pipe");
  rt::write_all(p[1], rt::pattern(kQueued, 3), "the queued bytes");
  close(p[1]);

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(rt::queued(p[0]) == int(kQueued), "%d bytes queued, want %zu", rt::queued(p[0]), kQueued);
  rt::expect_pattern(rt::read_exactly(p[0], kQueued, "the queued bytes"), kQueued, 3, "the queued bytes");
  char c;
  ssize_t n = read(p[0], &c, 1);
  RT_CHECK(n == 0, "read after the data gave %zd (%s), want EOF", n, n < 0 ? strerror(errno) : "a byte");
  rt::pass();
}
