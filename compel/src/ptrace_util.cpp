#include "ptrace_util.h"

#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proc.h"

namespace compel::detail {

std::string errno_text(int err) { return std::strerror(err); }

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

long pt_try(int req, pid_t tid, uint64_t addr, uint64_t data) {
  errno = 0;
  long r = ::ptrace(static_cast<enum __ptrace_request>(req), tid, addr, data);
  if (r == -1 && errno != 0) return -errno;
  return r;
}

long pt(int req, pid_t tid, uint64_t addr, uint64_t data, const char* what) {
  long r = pt_try(req, tid, addr, data);
  if (r < 0 && r > -4096) {
    int err = static_cast<int>(-r);
    // ESRCH: gone, or not stopped; a task just woken by SIGKILL is the
    // latter for a moment before it shows as exiting.
    if (err == ESRCH) {
      Deadline deadline = Deadline::in_ms(20);
      Backoff backoff;
      do {
        if (proc::is_dead(tid)) throw_died(tid, what);
        backoff.pause();
      } while (!deadline.passed());
    }
    throw Error(std::string(what) + " of thread " + std::to_string(tid) + " failed: " + errno_text(err));
  }
  return r;
}

void throw_died(pid_t tid, const std::string& during) {
  throw TaskDied("thread " + std::to_string(tid) + " died during " + during);
}

static Report classify(int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) return {Report::Exited, 0, status, true};
  int sig = WSTOPSIG(status);
  if ((status >> 16) == PTRACE_EVENT_STOP) return {Report::EventStop, sig, status};
  return {Report::SignalStop, sig, status};
}

std::optional<Report> poll_report(pid_t tid, bool keep_exit) {
  int status = 0;
  if (keep_exit) {
    // Our own child: its exit belongs to whoever waits for it as its
    // parent, so it is only peeked at (WNOWAIT), and stops are consumed
    // with a waitid that cannot reap (no WEXITED) -- a peek followed by a
    // waitpid would race with the task dying in between.
    siginfo_t si = {};
    if (::waitid(P_PID, static_cast<id_t>(tid), &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid == tid &&
        (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED))
      return Report{Report::Exited, 0, -1, false};
    for (;;) {
      si = {};
      if (::waitid(P_PID, static_cast<id_t>(tid), &si, WSTOPPED | WNOHANG | __WALL) == 0) {
        if (si.si_pid != tid) return std::nullopt;
        return classify((si.si_status << 8) | 0x7f);  // the waitpid() form of a stop
      }
      if (errno == EINTR) continue;
      return Report{Report::Exited, 0, -1, true};  // ECHILD: gone
    }
  }
  for (;;) {
    pid_t r = ::waitpid(tid, &status, __WALL | WNOHANG);
    if (r == tid) return classify(status);
    if (r == 0) return std::nullopt;
    if (errno == EINTR) continue;
    // ECHILD: not ours any more (reaped, or gone).
    return Report{Report::Exited, 0, -1, true};
  }
}

void Backoff::pause() {
  ++rounds_;
  if (rounds_ < 200) {
    sched_yield();
    return;
  }
  long ns = rounds_ < 400 ? 20000 : (rounds_ < 600 ? 200000 : 1000000);
  struct timespec ts = {0, ns};
  nanosleep(&ts, nullptr);
}

std::optional<Report> wait_report(pid_t tid, bool keep_exit, Deadline deadline) {
  Backoff backoff;
  auto next_death_check = Clock::now() + std::chrono::milliseconds(5);
  for (;;) {
    if (auto r = poll_report(tid, keep_exit)) return r;
    auto now = Clock::now();
    if (now >= next_death_check) {
      // A zombie leader is only reported once its threads are reaped.
      if (proc::is_dead(tid)) {
        if (auto r = poll_report(tid, keep_exit)) return r;
        return Report{Report::Exited, 0, -1, false};
      }
      next_death_check = now + std::chrono::milliseconds(5);
    }
    if (now >= deadline.at) return std::nullopt;
    backoff.pause();
  }
}

}  // namespace compel::detail
static_assert(compel::detail::kSyscallStopSig == (SIGTRAP | 0x80));
