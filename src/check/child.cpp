#include "check/child.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::check {

bool try_wait_status(pid_t pid, int flags, Millis timeout, int& status) {
  // waitpid has no timeout and stops (ptrace, group-stop) are not signalled
  // through a pidfd, so poll with a short, growing back-off.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  long pause_ns = 20'000;
  for (;;) {
    pid_t r = waitpid(pid, &status, flags | WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) throw sys_error(format("cannot wait for pid %d", pid));
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec ts = {0, pause_ns};
    nanosleep(&ts, nullptr);
    if (pause_ns < 2'000'000) pause_ns *= 2;
  }
}

int wait_status(pid_t pid, int flags, Millis timeout, const char* what) {
  int status = 0;
  if (!try_wait_status(pid, flags, timeout, status))
    throw Error(format("pid %d: %s did not happen within %lld ms", pid, what,
                       static_cast<long long>(timeout.count())));
  return status;
}

void die_with_parent(pid_t parent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
}

Child::Child(const std::function<void()>& body) {
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw sys_error("cannot fork a helper child");
  if (pid_ > 0) return;
  die_with_parent(parent);
  if (body) {
    try {
      body();
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  for (;;) pause();
}

Child::~Child() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  try {
    if (!try_wait_status(pid_, __WALL, kChildWait, status))
      LOG_WARN("helper child %d did not die after SIGKILL", pid_);
  } catch (const std::exception& e) {
    LOG_WARN("%s", e.what());
  }
}

int Child::wait_exit(Millis timeout) {
  int status = wait_status(pid_, __WALL, timeout, "exit");
  if (!WIFEXITED(status) && !WIFSIGNALED(status))
    throw Error(format("helper child %d stopped instead of exiting", pid_));
  pid_ = -1;
  return status;
}

}  // namespace ckpt::check
