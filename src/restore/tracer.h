// ckpt's side of one restored thread: it traces the thread from its
// creation to its first instruction of target code, so that it never runs
// the target half-made and the restorer area can be removed from its
// process at the very end.
//
//   (root: seize, rseq config, go; the other processes and threads are
//   traced from birth)
//   ... ckpt's code, blob ... int3 ──> rt_sigreturn entry ──> rt_sigreturn
//   exit (target registers in place): held ──> once every thread of the
//   process is held, remote munmap of the restorer area in one of them ──>
//   held stopped until the whole tree is there ──> detach
//
// A main thread that had exited at dump is held at its exit instead
// (PTRACE_EVENT_EXIT) and let go with the others.
//
// Killing and reaping on failure is the tree's business (tree_tracer.h).
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

  // A live thread `tid` of process `tgid` with its process's area, or a
  // zombie of the image (area null) that must end with `zombie_status`.
  TracedTask(pid_t tid, pid_t tgid, const RestorerArea* area, int zombie_status = 0)
      : pid_(tid), tgid_(tgid), area_(area), zombie_status_(zombie_status) {}
  TracedTask(const TracedTask&) = delete;
  TracedTask& operator=(const TracedTask&) = delete;

  pid_t pid() const { return pid_; }  // the thread's tid
  pid_t tgid() const { return tgid_; }
  bool zombie() const { return area_ == nullptr; }
  const RestorerArea* area() const { return area_; }
  // Reported by waitpid at least once (it exists and is ours).
  bool seen() const { return seen_; }
  // Held at the exit of rt_sigreturn (or at its exit, for a thread that
  // had exited at dump), waiting for the other threads of its process.
  bool held() const { return held_; }
  bool exiting() const { return exiting_; }
  // Stopped at the blob's int3, to be let go by leave_trap() (the tree
  // tracer lets the main thread go last in its process).
  bool at_trap() const { return at_trap_; }
  // Held with its process's area removed, or (a zombie) ended as it should.
  bool finished() const { return finished_; }
  void mark_finished() { finished_ = true; }
  bool detached() const { return detached_; }

  // The root exists (ckpt's clone3 returned): it is ours even untraced.
  void mark_created() { seen_ = true; }
  // PTRACE_SEIZE of the root, with PTRACE_O_TRACEFORK: the children it
  // creates are traced from their first instruction, with the same options.
  // `suspend_seccomp`: with PTRACE_O_SUSPEND_SECCOMP too (needs
  // CAP_SYS_ADMIN), so that the seccomp filters the blob installs are not
  // enforced until the detach.
  void seize(bool suspend_seccomp = false);
  // ckpt's rseq registration as the task inherited it (the blob undoes it).
  ckpt_restorer_rseq rseq_config();
  // One stop or the end of this task, as waitpid reported it; at the
  // blob's int3 the task stays there (at_trap).  Throws the task's own error if it died
  // (or, a zombie, ended otherwise than recorded).
  void on_status(int status);
  // From the int3: follows the thread through rt_sigreturn and holds it, or
  // (a main thread that had exited at dump) lets it go to its exit.
  void leave_trap(Clock::time_point deadline);
  // Unmaps the process's restorer area, run from this held thread.
  void remove_area();
  // Lets the task go as the restored process.
  void detach();
  // Puts this thread's process into the group stop it was dumped in, by
  // `stop_signal`, before any thread runs target code or takes a pending
  // signal, then detaches this thread (the others are detached as usual and
  // join the stop).
  void detach_into_stop(int stop_signal);

 private:
  struct Stop;
  Stop wait_stop(Clock::time_point deadline);
  Stop next_syscall_stop(Clock::time_point deadline);
  [[noreturn]] void died(const Stop& s);
  void follow_sigreturn(Clock::time_point deadline);
  uint32_t blob_phase() const;

  pid_t pid_;
  pid_t tgid_;
  const RestorerArea* area_;
  int zombie_status_;
  bool seen_ = false;
  bool held_ = false;
  bool exiting_ = false;
  bool at_trap_ = false;
  bool finished_ = false;
  bool detached_ = false;
  uint64_t syscall_insn_ = 0;
  std::vector<int> deferred_signals_;
};

}  // namespace ckpt::restore
