// Reading and writing the state of a frozen thread.  While an infection has
// borrowed a thread, these see (and change) the state it will get back at
// cure, not the parasite's.
#include <signal.h>
#include <sys/ptrace.h>

#include <cstring>

#include "tree.h"

namespace compel {

using detail::ThreadRecord;

namespace {

ThreadRecord& live_thread(FrozenTree::Impl& tree, pid_t tid) { return tree.live_thread(tid, "the freeze"); }

}  // namespace

Registers FrozenTree::get_registers(pid_t tid) const {
  ThreadRecord& t = live_thread(*impl_, tid);
  Registers regs;
  if (t.borrowed) {
    regs.gp = t.borrowed->gp;
    regs.xstate = t.borrowed->xstate;
    regs.fpregs = t.borrowed->fpregs;
    return regs;
  }
  detail::get_gp(tid, regs.gp);
  regs.xstate = detail::get_xstate(tid);
  regs.fpregs = detail::get_fpregs(tid);
  return regs;
}

void FrozenTree::set_registers(pid_t tid, const Registers& regs) const {
  ThreadRecord& t = live_thread(*impl_, tid);
  if (t.borrowed) {
    t.borrowed->gp = regs.gp;
    if (!regs.xstate.empty()) t.borrowed->xstate = regs.xstate;
    if (!regs.fpregs.empty()) t.borrowed->fpregs = regs.fpregs;
    return;
  }
  detail::set_gp(tid, regs.gp);
  if (!regs.xstate.empty())
    detail::set_xstate(tid, regs.xstate);
  else
    detail::set_fpregs(tid, regs.fpregs);
}

FrozenTree::SyscallState FrozenTree::syscall_state(pid_t tid) const {
  ThreadRecord& t = live_thread(*impl_, tid);
  user_regs_struct gp;
  if (t.borrowed)
    gp = t.borrowed->gp;
  else
    detail::get_gp(tid, gp);
  long nr = static_cast<long>(gp.orig_rax);
  return {nr < 0 ? -1 : nr, static_cast<long>(gp.rax)};
}

std::vector<std::vector<uint8_t>> FrozenTree::pending_signals(pid_t tid, bool shared) const {
  live_thread(*impl_, tid);
  std::vector<std::vector<uint8_t>> out;
  siginfo_t batch[32];
  for (;;) {
    struct __ptrace_peeksiginfo_args args = {out.size(), shared ? static_cast<uint32_t>(PTRACE_PEEKSIGINFO_SHARED) : 0u, 32};
    long n = detail::pt(PTRACE_PEEKSIGINFO, tid, reinterpret_cast<uint64_t>(&args),
                        reinterpret_cast<uint64_t>(batch), "reading the pending signals");
    if (n <= 0) return out;
    for (long i = 0; i < n; i++) {
      const auto* raw = reinterpret_cast<const uint8_t*>(&batch[i]);
      out.emplace_back(raw, raw + sizeof(siginfo_t));
    }
  }
}

uint64_t FrozenTree::blocked_mask(pid_t tid) const {
  ThreadRecord& t = live_thread(*impl_, tid);
  return t.borrowed ? t.borrowed->sigmask : detail::get_sigmask(tid);
}

}  // namespace compel
