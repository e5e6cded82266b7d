// Short-lived helper processes for probes: a child that only sleeps (to be
// traced, read, or have an fd taken out of it), bounded waits, and the
// guarantee that every child is killed and reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

namespace ckpt::check {

using Millis = std::chrono::milliseconds;

// How long a probe waits for one child event before calling it a failure.
inline constexpr Millis kChildWait{1000};

// waitpid() with a deadline: returns the pid's status (flags as for waitpid,
// e.g. __WALL), or throws ckpt::Error naming `what` when nothing happened in
// time.
int wait_status(pid_t pid, int flags, Millis timeout, const char* what);

// Like wait_status but returns false on timeout instead of throwing.
bool try_wait_status(pid_t pid, int flags, Millis timeout, int& status);

// In a freshly forked child: die with the parent (PR_SET_PDEATHSIG), closing
// the window where the parent died before the request.
void die_with_parent(pid_t parent);

// A forked child that runs `body` then _exit(0)s, or, with no body, sleeps
// until killed.  The destructor SIGKILLs and reaps it (bounded), so a probe
// never leaves a process behind even when it throws.
class Child {
 public:
  explicit Child(const std::function<void()>& body = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for the child to exit on its own; returns its wait status.
  int wait_exit(Millis timeout = kChildWait);

 private:
  pid_t pid_ = -1;
};

}  // namespace ckpt::check
