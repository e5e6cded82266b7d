// The core and fs images: registers and per-task state as protobuf records.
#include <signal.h>

#include "ckpt/error.h"
#include "dump/task_state.h"
#include "mem/numa_policy.h"
#include "task/prctl.h"

namespace ckpt::dump {

namespace {

void set_gpregs(img::X86GpRegs& r, const user_regs_struct& g) {
  r.set_r15(g.r15); r.set_r14(g.r14); r.set_r13(g.r13); r.set_r12(g.r12);
  r.set_bp(g.rbp);  r.set_bx(g.rbx);  r.set_r11(g.r11); r.set_r10(g.r10);
  r.set_r9(g.r9);   r.set_r8(g.r8);   r.set_ax(g.rax);  r.set_cx(g.rcx);
  r.set_dx(g.rdx);  r.set_si(g.rsi);  r.set_di(g.rdi);  r.set_orig_ax(g.orig_rax);
  r.set_ip(g.rip);  r.set_cs(g.cs);   r.set_flags(g.eflags); r.set_sp(g.rsp);
  r.set_ss(g.ss);   r.set_fs_base(g.fs_base); r.set_gs_base(g.gs_base);
  r.set_ds(g.ds);   r.set_es(g.es);   r.set_fs(g.fs);   r.set_gs(g.gs);
}

void set_creds(img::CredsEntry& c, const compel::Creds& from) {
  c.set_uid(from.uid);     c.set_euid(from.euid); c.set_suid(from.suid); c.set_fsuid(from.fsuid);
  c.set_gid(from.gid);     c.set_egid(from.egid); c.set_sgid(from.sgid); c.set_fsgid(from.fsgid);
  for (uint32_t g : from.groups) c.add_groups(g);
  c.set_cap_inh(from.cap_inh);
  c.set_cap_prm(from.cap_prm);
  c.set_cap_eff(from.cap_eff);
  c.set_cap_bnd(from.cap_bnd);
  c.set_cap_amb(from.cap_amb);
  c.set_securebits(from.securebits);
  c.set_no_new_privs(from.no_new_privs);
}

void set_itimer(img::ItimerEntry& e, const compel::ITimer& t) {
  e.set_interval_sec(t.interval_sec);
  e.set_interval_usec(t.interval_usec);
  e.set_value_sec(t.value_sec);
  e.set_value_usec(t.value_usec);
}

void add_siginfos(google::protobuf::RepeatedPtrField<img::SiginfoEntry>& out, const std::vector<RawSiginfo>& in) {
  for (const RawSiginfo& raw : in) out.Add()->set_siginfo(std::string(raw.begin(), raw.end()));
}

uint32_t task_state_code(compel::TaskState state) {
  switch (state) {
    case compel::TaskState::Running: return 0;
    case compel::TaskState::Zombie: return 1;
    case compel::TaskState::Stopped: return 2;
  }
  return 0;
}

void fill_process(img::ProcessCoreEntry& p, const ProcessSnapshot& snap, const compel::ProcessInfo& info) {
  // SIGKILL and SIGSTOP cannot have actions.
  for (uint32_t signo = 1; signo <= 64; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    const compel::SigAction& a = info.sigactions[signo - 1];
    img::SigactionEntry* e = p.add_sigactions();
    e->set_signo(signo);
    e->set_handler(a.handler);
    e->set_flags(a.flags);
    e->set_restorer(a.restorer);
    e->set_mask(a.mask);
  }
  add_siginfos(*p.mutable_shared_pending(), snap.shared_pending);
  set_itimer(*p.mutable_itimer_real(), info.itimer_real);
  set_itimer(*p.mutable_itimer_virt(), info.itimer_virt);
  set_itimer(*p.mutable_itimer_prof(), info.itimer_prof);
  for (const compel::PosixTimer& t : info.posix_timers) {
    img::PosixTimerEntry* e = p.add_posix_timers();
    e->set_timer_id(t.id);
    e->set_clock_id(t.clock_id);
    e->set_notify(t.notify);
    e->set_signo(t.signo);
    e->set_sigval(t.sigval);
    e->set_notify_tid(t.notify_tid);
    e->set_interval_sec(t.interval_sec);
    e->set_interval_nsec(t.interval_nsec);
    e->set_value_sec(t.value_sec);
    e->set_value_nsec(t.value_nsec);
    e->set_overrun(t.overrun);
  }
  for (const img::RlimitEntry& r : snap.rlimits) *p.add_rlimits() = r;
  p.set_personality(info.personality);
  p.set_umask(info.umask);
  p.set_task_state(task_state_code(snap.state));
  if (snap.state == compel::TaskState::Stopped) p.set_stop_signal(uint32_t(snap.stop_signal));
  p.set_pdeath_sig(info.pdeath_sig);
  p.set_oom_score_adj(snap.oom_score_adj);
  task::fill_process_prctl(p, snap.pid, info, snap.loginuid);
  if (snap.autogroup_nice) p.set_autogroup_nice(*snap.autogroup_nice);
}

// An exited main thread: its tid and name, no registers (required by the
// format, zero), and the process's part.
img::CoreEntry make_exited_core(const ProcessSnapshot& snap, const ThreadSnapshot& t, const ParasiteReport& report) {
  img::CoreEntry core;
  img::ThreadCoreEntry& th = *core.mutable_thread();
  th.set_tid(uint32_t(t.tid));
  set_gpregs(*th.mutable_gpregs(), user_regs_struct{});
  th.set_blocked(0);
  th.set_exited(true);
  th.set_comm(t.comm);
  fill_process(*core.mutable_process(), snap, report.process);
  return core;
}

}  // namespace

img::CoreEntry make_core(const ProcessSnapshot& snap, size_t thread_index, const ParasiteReport& report) {
  const ThreadSnapshot& t = snap.threads.at(thread_index);
  if (t.exited) return make_exited_core(snap, t, report);
  const compel::ThreadInfo* info = nullptr;
  for (const compel::ThreadInfo& ti : report.threads)
    if (ti.tid == t.tid) info = &ti;
  if (!info) throw Error(format("cannot dump thread %d of pid %d: the parasite did not report it", t.tid, snap.pid));

  img::CoreEntry core;
  img::ThreadCoreEntry& th = *core.mutable_thread();
  th.set_tid(uint32_t(t.tid));
  set_gpregs(*th.mutable_gpregs(), t.regs.gp);
  if (!t.regs.xstate.empty())
    th.set_xsave(std::string(t.regs.xstate.begin(), t.regs.xstate.end()));
  else if (!t.regs.fpregs.empty())
    th.set_fpregs(std::string(t.regs.fpregs.begin(), t.regs.fpregs.end()));
  th.set_blocked(t.blocked);
  add_siginfos(*th.mutable_pending(), t.pending);
  img::AltStackEntry* alt = th.mutable_altstack();
  alt->set_sp(info->altstack_sp);
  alt->set_flags(info->altstack_flags);
  alt->set_size(info->altstack_size);
  if (info->rseq_ptr) {
    img::RseqEntry* rseq = th.mutable_rseq();
    rseq->set_ptr(info->rseq_ptr);
    rseq->set_len(info->rseq_len);
    rseq->set_sig(info->rseq_sig);
  }
  th.set_clear_child_tid(info->clear_child_tid);
  th.set_exit_signal(uint32_t(t.exit_signal));
  th.set_in_syscall(int32_t(t.syscall.nr));
  th.set_syscall_ret(t.syscall.ret);
  set_creds(*th.mutable_creds(), info->creds);
  task::fill_thread_prctl(th, *info);
  th.set_cpu_affinity(t.affinity);
  img::MempolicyEntry policy;
  if (mem::policy_of(format("cannot dump thread %d of pid %d", t.tid, snap.pid), info->mempolicy_ret,
                     info->mempolicy_mode, info->mempolicy_flags, info->mempolicy_nodes, policy))
    *th.mutable_mempolicy() = policy;
  *th.mutable_sched() = t.sched;
  th.set_comm(t.comm);
  if (t.robust_list) {
    th.set_robust_list(t.robust_list);
    th.set_robust_list_len(t.robust_list_len);
  }

  if (t.seccomp_mode) {
    th.set_seccomp_mode(uint32_t(t.seccomp_mode));
    for (const compel::SeccompFilter& f : t.seccomp_filters) {
      img::SeccompFilterEntry* e = th.add_seccomp_filters();
      e->set_insns(std::string(f.insns.begin(), f.insns.end()));
      e->set_flags(f.flags);
    }
  }

  if (thread_index == 0) fill_process(*core.mutable_process(), snap, report.process);
  return core;
}

img::FsEntry make_fs(const ProcessSnapshot& snap, const ParasiteReport& report) {
  img::FsEntry fs;
  fs.set_cwd(snap.cwd);
  fs.set_root(snap.root);
  fs.set_umask(report.process.umask);
  return fs;
}

}  // namespace ckpt::dump
