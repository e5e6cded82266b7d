#include "remote_syscall.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <cstring>

namespace compel::detail {

namespace {

constexpr int kSyscallStop = SIGTRAP | 0x80;  // PTRACE_O_TRACESYSGOOD

bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

void run_to_syscall_stop(ThreadRecord& t, int request, Deadline deadline, const std::string& what) {
  pt(request, t.tid, 0, 0, what.c_str());
  t.running = true;
  for (;;) {
    auto r = wait_report(t.tid, t.own_child, deadline);
    if (!r) throw Error(what + " in thread " + std::to_string(t.tid) + " did not finish in time");
    switch (r->kind) {
      case Report::Exited:
        t.dead = true;
        t.reaped = r->reaped;
        t.running = false;
        throw_died(t.tid, what);
      case Report::EventStop:
        // A group stop (or a stray interrupt) on the way: go on.
        pt(request, t.tid, 0, 0, what.c_str());
        continue;
      case Report::SignalStop:
        break;
    }
    if (r->sig == kSyscallStop) {
      t.running = false;
      return;
    }
    if (is_stop_signal(r->sig)) {
      // Everything else is blocked; a stop signal cannot be: let the group
      // stop happen, it is reported next and resumed above.
      pt(request, t.tid, 0, static_cast<uint64_t>(r->sig), what.c_str());
      continue;
    }
    t.running = false;
    user_regs_struct regs;
    get_gp(t.tid, regs);
    throw Error(what + " in thread " + std::to_string(t.tid) + " failed: stopped by signal " + std::to_string(r->sig) +
                " (" + strsignal(r->sig) + ") at ip " + hex(regs.rip));
  }
}

long parked_syscall(ThreadRecord& t, const CureGadgets& g, uint64_t parked_sp, Deadline deadline, long nr,
                    uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  std::string what = "remote syscall " + std::to_string(nr);
  run_to_syscall_stop(t, PTRACE_SYSCALL, deadline, what);
  user_regs_struct regs;
  get_gp(t.tid, regs);
  if (regs.orig_rax != SYS_rt_sigreturn || regs.rip != g.sigreturn_end || regs.rsp != parked_sp)
    throw Error(what + " in thread " + std::to_string(t.tid) + ": the thread entered syscall " +
                std::to_string(static_cast<long>(regs.orig_rax)) + " at " + hex(regs.rip) +
                " instead of its cure chain's rt_sigreturn at " + hex(g.sigreturn_end));
  regs.orig_rax = static_cast<uint64_t>(nr);
  regs.rdi = a1;
  regs.rsi = a2;
  regs.rdx = a3;
  regs.r10 = a4;
  regs.r8 = a5;
  regs.r9 = a6;
  regs.rip = g.sigreturn;  // back to the chain once it is done
  set_gp(t.tid, regs);
  run_to_syscall_stop(t, PTRACE_SYSCALL, deadline, what);
  get_gp(t.tid, regs);
  return static_cast<long>(regs.rax);
}

}  // namespace compel::detail
