#include "remote_syscall.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <cstring>

namespace compel::detail {

void resume(ThreadRecord& t, int request, const std::string& what) {
  pt(request, t.tid, 0, 0, what.c_str());
  t.running = true;
}

void run_to_syscall_stop(ThreadRecord& t, int request, Deadline deadline, const std::string& what) {
  resume(t, request, what);
  wait_syscall_stop(t, request, deadline, what);
}

void wait_syscall_stop(ThreadRecord& t, int request, Deadline deadline, const std::string& what) {
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
    if (r->sig == kSyscallStopSig) {
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

namespace {

// At the entry stop of the chain's rt_sigreturn: make it nr(args), back to
// the sigreturn sequence once done.
void rewrite_entry(ThreadRecord& t, const CureGadgets& g, uint64_t parked_sp, long nr, const uint64_t (&args)[6],
                   const std::string& what) {
  user_regs_struct regs;
  get_gp(t.tid, regs);
  if (regs.orig_rax != SYS_rt_sigreturn || regs.rip != g.sigreturn_end || regs.rsp != parked_sp)
    throw Error(what + " in thread " + std::to_string(t.tid) + ": the thread entered syscall " +
                std::to_string(static_cast<long>(regs.orig_rax)) + " at " + hex(regs.rip) +
                " instead of its cure chain's rt_sigreturn at " + hex(g.sigreturn_end));
  regs.orig_rax = static_cast<uint64_t>(nr);
  regs.rdi = args[0];
  regs.rsi = args[1];
  regs.rdx = args[2];
  regs.r10 = args[3];
  regs.r8 = args[4];
  regs.r9 = args[5];
  regs.rip = g.sigreturn;
  set_gp(t.tid, regs);
}

long exit_result(ThreadRecord& t) {
  user_regs_struct regs;
  get_gp(t.tid, regs);
  return static_cast<long>(regs.rax);
}

std::string call_name(long nr) { return "remote syscall " + std::to_string(nr); }

}  // namespace

long parked_syscall(ThreadRecord& t, const CureGadgets& g, uint64_t parked_sp, Deadline deadline, long nr,
                    uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  std::vector<ParkedCall> one{{&t, parked_sp, nr, {a1, a2, a3, a4, a5, a6}}};
  parked_syscalls(one, g, deadline);
  return one[0].result;
}

void parked_syscalls(std::vector<ParkedCall>& calls, const CureGadgets& g, Deadline deadline) {
  for (ParkedCall& c : calls) resume(*c.thread, PTRACE_SYSCALL, call_name(c.nr));
  for (ParkedCall& c : calls) {
    std::string what = call_name(c.nr);
    wait_syscall_stop(*c.thread, PTRACE_SYSCALL, deadline, what);
    rewrite_entry(*c.thread, g, c.parked_sp, c.nr, c.args, what);
    resume(*c.thread, PTRACE_SYSCALL, what);
  }
  for (ParkedCall& c : calls) {
    wait_syscall_stop(*c.thread, PTRACE_SYSCALL, deadline, call_name(c.nr));
    c.result = exit_result(*c.thread);
  }
}

}  // namespace compel::detail
