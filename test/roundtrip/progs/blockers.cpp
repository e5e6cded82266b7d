// Two processes, each holding an fd ckpt refuses: the parent an io_uring
// instance, its child a userfaultfd.  The dump must name both (every
// blocker of the tree, not the first), touch neither, and the tree runs on:
// on SIGTERM the parent has the child check its fd, then checks its own.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testlib.h"

namespace {

// The fd is still open on an object of that kind.
void check_anon_fd(int fd, const char* kind) {
  char link[64], want[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  char target[128] = {};
  RT_CHECK(readlink(link, target, sizeof(target) - 1) > 0, "pid %d: fd %d is gone", getpid(), fd);
  snprintf(want, sizeof(want), "anon_inode:[%s]", kind);
  RT_CHECK(strcmp(target, want) == 0, "pid %d: fd %d is %s, not %s", getpid(), fd, target, want);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2});
  io_uring_params params{};
  int ring = int(syscall(SYS_io_uring_setup, 4, &params));
  RT_CHECK(ring >= 0, "io_uring_setup: %s", strerror(errno));

  int up[2];
  RT_CHECK(pipe2(up, O_CLOEXEC) == 0, "pipe2");
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    close(ring);
    close(up[0]);
    int uffd = int(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
    RT_CHECK(uffd >= 0, "userfaultfd: %s", strerror(errno));
    RT_CHECK(write(up[1], "u", 1) == 1, "child: cannot say it is up");
    close(up[1]);
    rt::await_signal(SIGUSR2, "SIGUSR2 from the parent", rt::kWaitLimitSeconds);
    check_anon_fd(uffd, "userfaultfd");
    _exit(0);
  }
  close(up[1]);
  char byte;
  RT_CHECK(read(up[0], &byte, 1) == 1, "the child did not come up");
  close(up[0]);  // the handshake's pipe is no blocker of its own

  rt::ready();
  rt::wait_term();
  RT_CHECK(kill(child, SIGUSR2) == 0, "cannot signal the child");
  int status = 0;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed its check (status %d)", status);
  check_anon_fd(ring, "io_uring");
  rt::pass();
}
