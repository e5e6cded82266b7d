// Reading and writing the state of a frozen thread.  While an infection has
// borrowed a thread, these see (and change) the state it will get back at
// cure, not the parasite's.
#include <signal.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ptrace.h>

#include <cstring>
#include <string>

#include "tree.h"

namespace compel {

using detail::ThreadRecord;

namespace {

ThreadRecord& live_thread(FrozenTree::Impl& tree, pid_t tid) { return tree.live_thread(tid, "the freeze"); }

// The thread that runs the parasite's loop is in no ptrace stop, which the
// requests below need: it is interrupted for their duration (its wait for
// the next command restarts when it goes on).
class PausedIfRunning {
 public:
  PausedIfRunning(ThreadRecord& t, const FrozenTree::Impl& tree) : t_(t) {
    if (!t.running || t.dead) return;
    detail::pt(PTRACE_INTERRUPT, t.tid, 0, 0, "pausing the parasite");
    auto r = detail::wait_report(t.tid, t.own_child, tree.deadline());
    if (!r) throw Error("thread " + std::to_string(t.tid) + " does not pause for ptrace");
    if (r->kind == detail::Report::Exited) {
      t.dead = true;
      t.reaped = r->reaped;
      detail::throw_died(t.tid, "a pause for ptrace");
    }
    // A stop signal that arrived meanwhile goes on with the thread.
    if (r->kind == detail::Report::SignalStop && r->sig != detail::kSyscallStopSig) resume_sig_ = r->sig;
    paused_ = true;
  }
  ~PausedIfRunning() {
    if (paused_) detail::pt_try(PTRACE_CONT, t_.tid, 0, static_cast<uint64_t>(resume_sig_));
  }
  PausedIfRunning(const PausedIfRunning&) = delete;
  PausedIfRunning& operator=(const PausedIfRunning&) = delete;

 private:
  ThreadRecord& t_;
  bool paused_ = false;
  int resume_sig_ = 0;
};

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
  PausedIfRunning paused(live_thread(*impl_, tid), *impl_);
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

// Index 0 is the oldest filter, the first installed (the kernel's
// get_nth_filter counts back from the newest by the number of filters
// minus the index); ENOENT past the newest.  A thread not in
// filter mode gives EINVAL at index 0.
std::vector<SeccompFilter> FrozenTree::seccomp_filters(pid_t tid) const {
  PausedIfRunning paused(live_thread(*impl_, tid), *impl_);
  std::vector<SeccompFilter> out;
  auto fail = [&](unsigned long index, const char* what, long r) {
    std::string hint = r == -EACCES ? " (it needs CAP_SYS_ADMIN, and a dumper not under seccomp itself)" : "";
    return Error("cannot read seccomp filter " + std::to_string(index) + " of thread " + std::to_string(tid) + ": " +
                 what + " failed: " + detail::errno_text(static_cast<int>(-r)) + hint);
  };
  // The kernel caps a thread's filters at 32768 instructions in all, each
  // filter counting at least 5: a longer chain is not a real one.
  constexpr unsigned long kMaxFilters = 32768 / 5 + 1;
  for (unsigned long index = 0;; index++) {
    long n = detail::pt_try(PTRACE_SECCOMP_GET_FILTER, tid, index, 0);
    if (n == -ENOENT || (n == -EINVAL && index == 0)) break;
    if (n < 0) throw fail(index, "PTRACE_SECCOMP_GET_FILTER", n);
    if (n == 0 || n > BPF_MAXINSNS || index >= kMaxFilters)
      throw Error("cannot read seccomp filter " + std::to_string(index) + " of thread " + std::to_string(tid) +
                  ": the kernel reports " + std::to_string(n) + " instructions");
    SeccompFilter f;
    f.insns.resize(static_cast<size_t>(n) * sizeof(struct sock_filter));
    long got = detail::pt_try(PTRACE_SECCOMP_GET_FILTER, tid, index, reinterpret_cast<uint64_t>(f.insns.data()));
    if (got < 0) throw fail(index, "PTRACE_SECCOMP_GET_FILTER", got);
    if (got != n)
      throw Error("cannot read seccomp filter " + std::to_string(index) + " of thread " + std::to_string(tid) +
                  ": its length changed from " + std::to_string(n) + " to " + std::to_string(got) + " instructions");
    struct __ptrace_seccomp_metadata md{};
    md.filter_off = index;
    long r = detail::pt_try(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), reinterpret_cast<uint64_t>(&md));
    if (r < 0) throw fail(index, "PTRACE_SECCOMP_GET_METADATA", r);
    f.flags = static_cast<uint32_t>(md.flags);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace compel
