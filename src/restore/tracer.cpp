#include "restore/tracer.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "restore/blob_errors.h"
#include "restore/restorer_area.h"

namespace ckpt::restore {

struct TracedTask::Stop {
  int status = 0;
  bool exited() const { return WIFEXITED(status) || WIFSIGNALED(status); }
  bool syscall() const { return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80); }
  bool event_stop() const { return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP; }
  // A signal-delivery-stop: the signal the task is about to get.
  int signal() const {
    return WIFSTOPPED(status) && (status >> 16) == 0 && !syscall() ? WSTOPSIG(status) : 0;
  }
};

void TracedTask::seize(bool suspend_seccomp) {
  // Threads are traced from birth too (TRACECLONE), with these options:
  // PTRACE_O_SUSPEND_SECCOMP lives in the task's ptrace flags, which a
  // task traced from birth inherits.  It holds only while ckpt traces the
  // task: PTRACE_DETACH ends it, and the filters are in force from there.
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE;
  if (suspend_seccomp) opts |= PTRACE_O_SUSPEND_SECCOMP;
  if (ptrace(PTRACE_SEIZE, pid_, 0, opts) < 0) {
    if (suspend_seccomp && errno == EPERM)
      throw sys_error(format("cannot trace the new task %d with PTRACE_O_SUSPEND_SECCOMP (restoring seccomp filters "
                             "needs CAP_SYS_ADMIN, and a ckpt not under seccomp itself)",
                             pid_));
    throw sys_error(format("cannot trace the new task %d", pid_));
  }
  seen_ = true;
}

// SIGCHLD is blocked by the caller: sigtimedwait sleeps until the task
// changes state (ptrace stops notify the tracer too) or the deadline passes.
TracedTask::Stop TracedTask::wait_stop(Clock::time_point deadline) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    Stop s;
    pid_t r = waitpid(pid_, &s.status, __WALL | WNOHANG);
    if (r == pid_) return s;
    if (r < 0 && errno != EINTR) throw sys_error(format("cannot wait for the new task %d", pid_));
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) throw Error(format("restore of pid %d timed out", pid_));
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

ckpt_restorer_rseq TracedTask::rseq_config() {
  if (ptrace(PTRACE_INTERRUPT, pid_, 0, 0) < 0) throw sys_error(format("cannot interrupt the new task %d", pid_));
  Stop s = wait_stop(Clock::now() + std::chrono::seconds(30));
  if (!s.event_stop()) throw Error(format("the new task %d did not stop (status 0x%x)", pid_, s.status));
  __ptrace_rseq_configuration conf{};
  long n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid_, sizeof(conf), &conf);
  if (n < 0) throw sys_error(format("cannot read the rseq registration of the new task %d", pid_));
  if (ptrace(PTRACE_CONT, pid_, 0, 0) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
  return {conf.rseq_abi_pointer, conf.rseq_abi_size, conf.signature};
}

void TracedTask::died(const Stop& s) {
  if (zombie()) {
    if (WIFEXITED(s.status) && WEXITSTATUS(s.status) == CKPT_RESTORER_EXIT_CHILD_FAILED &&
        !(WIFEXITED(zombie_status_) && WEXITSTATUS(zombie_status_) == CKPT_RESTORER_EXIT_CHILD_FAILED))
      throw Error(format("cannot restore the zombie %d: it could not take its session or process group", pid_));
    throw Error(format("cannot restore the zombie %d: it ended with status 0x%x, not 0x%x", pid_, s.status,
                       zombie_status_));
  }
  throw Error(describe_task_death(tgid_, s.status, *area_->args()));
}

// How far this thread got in the blob.
uint32_t TracedTask::blob_phase() const {
  const ckpt_restorer_thread* t = area_->thread(pid_);
  return t ? __atomic_load_n(&t->phase, __ATOMIC_SEQ_CST) : uint32_t(CKPT_PHASE_CHILD);
}

void TracedTask::on_status(int status) {
  if (!seen_) LOG_DEBUG("pid %d exists", pid_);
  seen_ = true;
  Stop s{status};
  if (s.exited()) {
    // (The core-dump bit aside: zombies are recreated without a core.)
    if (zombie() && (s.status & ~0x80) == (zombie_status_ & ~0x80)) {
      // Ours no more: it is its restored parent's zombie now.
      finished_ = true;
      return;
    }
    died(s);
  }
  if (finished_ || held_ || at_trap_)
    throw Error(format("restored thread %d of pid %d stopped unexpectedly (status 0x%x)", pid_, tgid_, status));
  int sig = s.signal();
  if (!zombie() && sig == SIGTRAP &&
      (blob_phase() == CKPT_PHASE_SIGRETURN || blob_phase() == CKPT_PHASE_EXITING)) {
    // The blob's int3: the tree tracer says when to go on (leave_trap).
    at_trap_ = true;
    return;
  }
  if (!zombie() && WIFSTOPPED(s.status) && (s.status >> 16) == PTRACE_EVENT_EXIT &&
      blob_phase() == CKPT_PHASE_EXITING) {
    held_ = exiting_ = true;
    LOG_DEBUG("thread %d of pid %d exits again, as at dump", pid_, tgid_);
    return;
  }
  // Event stops (its birth, its forks and threads, exits) and group stops
  // are let go; other
  // signals get delivered (a fault in the blob kills the task and is
  // reported; a zombie's own death signal ends it).
  if (ptrace(PTRACE_CONT, pid_, 0, sig) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
}

void TracedTask::leave_trap(Clock::time_point deadline) {
  at_trap_ = false;
  if (blob_phase() == CKPT_PHASE_SIGRETURN) {
    follow_sigreturn(deadline);
    held_ = true;
    return;
  }
  // A main thread that exits again: its exit is to be seen (this thread
  // alone: the others' exits are no business of ours).
  // (It installed no filters: a thread that had exited has none.)
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXIT;
  if (ptrace(PTRACE_SETOPTIONS, pid_, 0, opts) < 0 || ptrace(PTRACE_CONT, pid_, 0, 0) < 0)
    throw sys_error(format("cannot follow thread %d of pid %d to its exit", pid_, tgid_));
}

namespace {

// What the blob may call between its int3 and rt_sigreturn: put SIGTRAP's
// action back and queue a SIGTRAP that was pending (pie/restorer/threads.c).
bool after_trap_syscall(uint64_t nr) {
  return nr == __NR_rt_sigaction || nr == __NR_rt_sigprocmask || nr == __NR_rt_sigqueueinfo ||
         nr == __NR_rt_tgsigqueueinfo;
}

// At most: rt_sigaction, rt_sigprocmask, two queued SIGTRAPs.
constexpr int kSyscallsAfterTrap = 4;

}  // namespace

void TracedTask::follow_sigreturn(Clock::time_point deadline) {
  // The int3 is swallowed; the blob's few syscalls after it are let
  // through, then comes rt_sigreturn.
  __ptrace_syscall_info info{};
  for (int calls = 0;; calls++) {
    if (ptrace(PTRACE_SYSCALL, pid_, 0, 0) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
    Stop entry = next_syscall_stop(deadline);
    if (entry.exited()) died(entry);
    if (ptrace(PTRACE_GET_SYSCALL_INFO, pid_, sizeof(info), &info) < 0 || info.op != PTRACE_SYSCALL_INFO_ENTRY)
      throw Error(format("restore of pid %d failed in the restorer: it did not reach rt_sigreturn", pid_));
    if (info.entry.nr == __NR_rt_sigreturn) break;
    if (calls == kSyscallsAfterTrap || !after_trap_syscall(info.entry.nr))
      throw Error(format("restore of pid %d failed in the restorer: syscall %llu instead of rt_sigreturn", pid_,
                         (unsigned long long)info.entry.nr));
    if (ptrace(PTRACE_SYSCALL, pid_, 0, 0) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
    Stop exit = next_syscall_stop(deadline);
    if (exit.exited()) died(exit);
  }
  syscall_insn_ = info.instruction_pointer - 2;
  if (ptrace(PTRACE_SYSCALL, pid_, 0, 0) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
  Stop exit = next_syscall_stop(deadline);
  if (exit.exited()) died(exit);
  LOG_DEBUG("pid %d left rt_sigreturn with the dumped registers", pid_);
}

// Waits for the next syscall stop; signals that arrive meanwhile are held
// back (delivered at detach) so that no handler runs on our registers.
TracedTask::Stop TracedTask::next_syscall_stop(Clock::time_point deadline) {
  for (;;) {
    Stop s = wait_stop(deadline);
    if (s.exited() || s.syscall()) return s;
    int sig = s.signal();
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL) {
      // rt_sigreturn refused the frame (or our code faulted): let it die
      // so that the reason is reported.
      if (ptrace(PTRACE_CONT, pid_, 0, sig) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
      continue;
    }
    if (sig) deferred_signals_.push_back(sig);
    if (ptrace(PTRACE_SYSCALL, pid_, 0, 0) < 0) throw sys_error(format("cannot resume the new task %d", pid_));
  }
}

void TracedTask::remove_area() {
  const RestorerArea& area = *area_;
  user_regs_struct saved;
  if (ptrace(PTRACE_GETREGS, pid_, 0, &saved) < 0) throw sys_error(format("cannot read the registers of %d", pid_));
  user_regs_struct call = saved;
  call.rip = syscall_insn_;
  call.rax = __NR_munmap;
  call.orig_rax = uint64_t(-1);
  call.rdi = area.start();
  call.rsi = area.end() - area.start();
  if (ptrace(PTRACE_SETREGS, pid_, 0, &call) < 0) throw sys_error(format("cannot set the registers of %d", pid_));
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (int step = 0; step < 2; step++) {
    if (ptrace(PTRACE_SYSCALL, pid_, 0, 0) < 0) throw sys_error(format("cannot resume %d", pid_));
    Stop s = next_syscall_stop(deadline);
    if (s.exited()) throw Error(format("pid %d died while ckpt removed the restorer from it", pid_));
  }
  user_regs_struct after;
  if (ptrace(PTRACE_GETREGS, pid_, 0, &after) < 0) throw sys_error(format("cannot read the registers of %d", pid_));
  if (ptrace(PTRACE_SETREGS, pid_, 0, &saved) < 0) throw sys_error(format("cannot set the registers of %d", pid_));
  if (int64_t(after.rax) != 0)
    throw Error(format("cannot remove the restorer area 0x%llx-0x%llx from pid %d: munmap failed: %lld",
                       (unsigned long long)area.start(), (unsigned long long)area.end(), pid_,
                       (long long)int64_t(after.rax)));
}

void TracedTask::detach() {
  // Held-back signals are queued again; they stay pending through the
  // detach and reach the process as it runs.
  for (int sig : deferred_signals_) syscall(SYS_tgkill, tgid_, pid_, sig);
  if (ptrace(PTRACE_DETACH, pid_, 0, 0) < 0) throw sys_error(format("cannot detach from the restored pid %d", pid_));
  detached_ = true;
}

// The thread is held at the exit of rt_sigreturn with its target mask.
// With every other signal blocked, a SIGSTOP is the only signal it takes: it
// is let run into that signal's delivery, where ckpt hands it the dumped
// stop signal instead (a SIGTSTP, say: the parent's waitpid reports it),
// with an interrupt pending.  The group stop then begins (reported as
// PTRACE_EVENT_STOP with that signal), or, if the kernel discarded the
// signal (SIGTSTP, SIGTTIN and SIGTTOU are discarded in an orphaned process
// group), the interrupt stops the thread (PTRACE_EVENT_STOP, SIGTRAP) and a
// SIGSTOP does it.  Back in the stop the thread gets its mask again and is
// detached: the kernel keeps it stopped, and every other thread, detached
// later, stops before it takes any pending signal (its stop is pending, and
// comes first).  No target code runs in between.
void TracedTask::detach_into_stop(int stop_signal) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  // (The stop signal itself must not be blocked: the kernel would queue it
  // again instead of stopping.)
  uint64_t mask = 0, all = ~0ull & ~(1ull << (stop_signal - 1));
  if (ptrace(PTRACE_GETSIGMASK, pid_, sizeof(mask), &mask) < 0 ||
      ptrace(PTRACE_SETSIGMASK, pid_, sizeof(all), &all) < 0)
    throw sys_error(format("cannot set the signal mask of the restored thread %d", pid_));
  auto into_stop = [&](int deliver) {
    if (syscall(SYS_tgkill, tgid_, pid_, SIGSTOP) < 0 || ptrace(PTRACE_CONT, pid_, 0, 0) < 0)
      throw sys_error(format("cannot stop the restored pid %d", tgid_));
    for (;;) {
      Stop s = wait_stop(deadline);
      if (s.exited()) died(s);
      if (s.signal() == SIGSTOP) break;
      // Another signal on its way in (one sent meanwhile): kept for later.
      if (s.signal()) deferred_signals_.push_back(s.signal());
      if (ptrace(PTRACE_CONT, pid_, 0, 0) < 0) throw sys_error(format("cannot stop the restored pid %d", tgid_));
    }
    if ((deliver != SIGSTOP && ptrace(PTRACE_INTERRUPT, pid_, 0, 0) < 0) || ptrace(PTRACE_CONT, pid_, 0, deliver) < 0)
      throw sys_error(format("cannot stop the restored pid %d", tgid_));
    Stop s = wait_stop(deadline);
    if (s.exited()) died(s);
    if (!s.event_stop())
      throw Error(format("the restored pid %d did not stop (status 0x%x)", tgid_, s.status));
    return WSTOPSIG(s.status);
  };
  if (into_stop(stop_signal) != stop_signal) {
    LOG_WARN("pid %d: its stop signal %d was discarded (an orphaned process group): it is stopped by SIGSTOP", tgid_,
             stop_signal);
    if (into_stop(SIGSTOP) != SIGSTOP) throw Error(format("the restored pid %d did not stop", tgid_));
  }
  if (ptrace(PTRACE_SETSIGMASK, pid_, sizeof(mask), &mask) < 0)
    throw sys_error(format("cannot set the signal mask of the restored thread %d", pid_));
  detach();
}

}  // namespace ckpt::restore
