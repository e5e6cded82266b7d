// Refused: a pipe whose other end is held by a process outside the tree
// (a grandchild let go: it is now the driver's child).  The dump names the
// pipe and the options; the pipe still connects the two afterwards.
#include <sys/wait.h>

#include "pipelib.h"

int main() {
  int to[2], from[2];
  RT_CHECK(pipe(to) == 0 && pipe(from) == 0, "pipe");
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    if (fork() != 0) _exit(0);
    // The outsider: echoes each byte until EOF (the tree's end closed).
    close(to[1]);
    close(from[0]);
    char c;
    while (read(to[0], &c, 1) == 1)
      if (write(from[1], &c, 1) != 1) break;
    _exit(0);
  }
  RT_CHECK(waitpid(child, nullptr, 0) == child, "waitpid");
  close(to[0]);
  close(from[1]);
  rt::write_all(to[1], "a", "to the outsider");
  RT_CHECK(rt::read_exactly(from[0], 1, "the echo") == "a", "no echo before the dump");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  rt::write_all(to[1], "b", "to the outsider");
  RT_CHECK(rt::read_exactly(from[0], 1, "the echo") == "b", "no echo after the refused dump");
  rt::pass();
}
