// ckpt's side of the new task: it traces the task from its creation to its
// first instruction of target code, so that the task never runs the target
// half-made and the restorer area can be removed from it at the very end.
//
//   seize ──> rseq config ──> go ──> ... blob ... int3 ──> rt_sigreturn entry
//   ──> rt_sigreturn exit (target registers in place) ──> remote munmap of the
//   restorer area ──> detach
//
// A TracedTask that was not detached kills and reaps its task when it dies,
// so a failed restore leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

#include "ckpt/restorer_args.h"

namespace ckpt::restore {

class RestorerArea;

class TracedTask {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TracedTask(pid_t pid) : pid_(pid) {}
  TracedTask(const TracedTask&) = delete;
  TracedTask& operator=(const TracedTask&) = delete;
  ~TracedTask();  // kill and reap unless detached

  pid_t pid() const { return pid_; }

  // PTRACE_SEIZE (the task waits for "go" in its first instructions).
  void seize();
  // ckpt's rseq registration as the task inherited it (the blob undoes it).
  ckpt_restorer_rseq rseq_config();
  // Lets the task run until the blob's int3, then follows it through
  // rt_sigreturn.  Throws the task's own error (child or blob) if it died.
  void run_to_target(const RestorerArea& area, Clock::time_point deadline);
  // munmap of the restorer area inside the task, at rt_sigreturn's exit.
  void remove_area(const RestorerArea& area);
  // Lets the task go as the restored process (stopped if `stop`).
  void detach(bool stop);

 private:
  struct Stop;
  Stop wait_stop(Clock::time_point deadline);
  Stop next_syscall_stop(Clock::time_point deadline);
  [[noreturn]] void died(const Stop& s, const RestorerArea& area);

  pid_t pid_;
  bool attached_ = false;
  bool done_ = false;  // detached as the restored process: leave it alone
  uint64_t syscall_insn_ = 0;
  std::vector<int> deferred_signals_;
};

}  // namespace ckpt::restore
