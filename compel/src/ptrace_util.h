// Thin wrappers over ptrace(2) and waitpid(2): errors become exceptions
// naming the task, a vanished task becomes TaskDied, and every wait is
// bounded by a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "compel/compel.h"

namespace compel::detail {

using Clock = std::chrono::steady_clock;

struct Deadline {
  Clock::time_point at;
  static Deadline in_ms(int ms) { return {Clock::now() + std::chrono::milliseconds(ms)}; }
  bool passed() const { return Clock::now() >= at; }
};

std::string errno_text(int err);
std::string hex(uint64_t v);  // "0x7f3a2c001010", for messages
// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: the signals that start a group stop,
// which compel lets happen rather than blocks.
bool is_stop_signal(int sig);
// The stop signal of a syscall stop (SIGTRAP | 0x80: PTRACE_O_TRACESYSGOOD).
inline constexpr int kSyscallStopSig = 5 | 0x80;

// ptrace(req, tid, addr, data); throws TaskDied if the task is gone, Error
// otherwise ("<what> of thread TID: <reason>").
long pt(int req, pid_t tid, uint64_t addr, uint64_t data, const char* what);
// The same, returning -errno instead of throwing.
long pt_try(int req, pid_t tid, uint64_t addr, uint64_t data);

// What waitpid(2) reported about a traced thread.
struct Report {
  enum Kind { Exited, SignalStop, EventStop } kind;
  int sig;     // the stop signal (SignalStop, EventStop)
  int status;  // raw status; -1 when synthesised for a dead task
  // Exited: the task is gone for good (its exit consumed here, or no longer
  // ours to wait for), so its tid may be reused; false while it is still a
  // zombie (only seen dying, or an exit left for the caller to reap).
  bool reaped = false;
};

// One non-blocking look: the pending report of tid, if any.  A task found
// dead without a report (a zombie leader waiting for its threads) is
// reported as Exited.  With keep_exit (the leader of a process that is
// compel's own child) an exit is reported but left for the caller to reap.
std::optional<Report> poll_report(pid_t tid, bool keep_exit);

// Waits for the next report of tid until the deadline; nullopt on timeout.
std::optional<Report> wait_report(pid_t tid, bool keep_exit, Deadline deadline);

// Sleeps a little, longer on each call of the same waiter: spins briefly
// (stops usually arrive within microseconds), then backs off to 1 ms.
class Backoff {
 public:
  void pause();

 private:
  unsigned rounds_ = 0;
};

[[noreturn]] void throw_died(pid_t tid, const std::string& during);

}  // namespace compel::detail
