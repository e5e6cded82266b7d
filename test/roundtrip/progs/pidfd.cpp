// pidfds across the round trip: of a child, of a zombie child, of the
// process itself and of its parent outside the tree.
//
//   parent P  child_fd   pidfd of child C, PIDFD_NONBLOCK
//             zombie_fd  pidfd of child Z, which has exited with 5, not reaped
//             self_fd    pidfd of P itself
//             up_fd      pidfd of P's parent (the driver: outside the tree,
//                        the same process after the restore)
//   child C   waits for SIGUSR2, then exits with 7
//
// On SIGTERM: fdinfo Pid of each names the same pid; P sends SIGUSR2 to C
// through child_fd (pidfd_send_signal), sees child_fd become readable and
// reaps C by it (waitid P_PIDFD: status 7), reaps Z by zombie_fd (5).
#include "anonlib.h"
#include "fslib.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

namespace {

int pidfd_open(pid_t pid, unsigned flags) {
  int fd = int(syscall(SYS_pidfd_open, pid, flags));
  RT_CHECK(fd >= 0, "pidfd_open %d: %s", pid, strerror(errno));
  return fd;
}

void expect_pid(int fd, pid_t pid, const char* name) {
  std::string v = rt::fdinfo_value(fd, "Pid");
  RT_CHECK(v == std::to_string(pid), "%s names pid %s, want %d", name, v.c_str(), pid);
}

int status_by_pidfd(int fd, const char* name) {
  siginfo_t si{};
  RT_CHECK(waitid(P_PIDFD, id_t(fd), &si, WEXITED) == 0, "waitid %s: %s", name, strerror(errno));
  RT_CHECK(si.si_code == CLD_EXITED, "%s did not exit (code %d)", name, si.si_code);
  return si.si_status;
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2, SIGCHLD});
  pid_t p = getpid(), up = getppid();
  pid_t c = fork();
  RT_CHECK(c >= 0, "fork");
  if (c == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rt::await_signal_from(SIGUSR2, p, "word from the parent");
    _exit(7);
  }
  pid_t z = fork();
  RT_CHECK(z >= 0, "fork");
  if (z == 0) _exit(5);
  int child_fd = pidfd_open(c, O_NONBLOCK);  // PIDFD_NONBLOCK
  int zombie_fd = pidfd_open(z, 0);
  int self_fd = pidfd_open(p, 0);
  int up_fd = pidfd_open(up, 0);
  // Z is a zombie before the dump.
  RT_CHECK(rt::readable_within(zombie_fd, 10000), "Z did not end");
  rt::ready();
  rt::wait_term();

  expect_pid(child_fd, c, "child_fd");
  expect_pid(zombie_fd, z, "zombie_fd");
  expect_pid(self_fd, p, "self_fd");
  expect_pid(up_fd, up, "up_fd");
  RT_CHECK(rt::nonblocking(child_fd) && !rt::nonblocking(self_fd), "flags changed");
  RT_CHECK(!rt::readable_within(child_fd, 0), "child_fd is readable while C lives");
  RT_CHECK(!rt::readable_within(up_fd, 0), "up_fd is readable while the driver lives");
  RT_CHECK(syscall(SYS_pidfd_send_signal, child_fd, SIGUSR2, nullptr, 0) == 0, "pidfd_send_signal: %s",
           strerror(errno));
  RT_CHECK(rt::readable_within(child_fd, 10000), "child_fd did not become readable as C ended");
  int st = status_by_pidfd(child_fd, "C");
  RT_CHECK(st == 7, "C exited with %d, want 7", st);
  st = status_by_pidfd(zombie_fd, "Z");
  RT_CHECK(st == 5, "Z exited with %d, want 5", st);
  rt::pass();
}
