// Reading a frozen process before infection: ptrace for registers and
// signals, /proc for the rest.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "dump/task_state.h"
#include "proc/limits.h"
#include "proc/read.h"
#include "task/affinity.h"
#include "task/autogroup.h"
#include "task/prctl.h"
#include "task/sched.h"

namespace ckpt::dump {

namespace {

std::string read_comm(pid_t pid, pid_t tid) {
  std::string comm = proc::read_file(proc::path(pid, "task/" + std::to_string(tid) + "/comm"));
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

std::vector<img::RlimitEntry> read_rlimits(pid_t pid) {
  std::string path = proc::path(pid, "limits");
  std::vector<proc::Limit> rows = proc::parse_limits(proc::read_file(path), path);
  if (rows.size() < RLIM_NLIMITS)
    throw Error(format("cannot read the resource limits of pid %d: %s has %zu rows, want %d", pid, path.c_str(),
                       rows.size(), RLIM_NLIMITS));
  std::vector<img::RlimitEntry> limits;
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    img::RlimitEntry e;
    e.set_resource(uint32_t(r));
    e.set_cur(rows[size_t(r)].cur);
    e.set_max(rows[size_t(r)].max);
    limits.push_back(e);
  }
  return limits;
}

// A filter whose program can answer SECCOMP_RET_USER_NOTIF hands syscalls
// to a supervisor holding its listener fd, which restore cannot give back.
bool notifies_user(const compel::SeccompFilter& f) {
  for (size_t at = 0; at + sizeof(sock_filter) <= f.insns.size(); at += sizeof(sock_filter)) {
    sock_filter insn;
    std::memcpy(&insn, f.insns.data() + at, sizeof(insn));
    if (insn.code == (BPF_RET | BPF_K) && (insn.k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF) return true;
  }
  return false;
}

// Filters are per thread: each thread's chain is read through ptrace
// (compel suspends them later, while the parasite runs in the thread).
void read_seccomp(const compel::FrozenTree& tree, pid_t pid, ThreadSnapshot& t) {
  if (t.seccomp_mode == SECCOMP_MODE_DISABLED) return;
  if (t.seccomp_mode == SECCOMP_MODE_STRICT)
    throw Error(format("cannot dump thread %d of pid %d: it runs in strict seccomp mode (SECCOMP_MODE_STRICT), "
                       "which cannot be restored (the restorer could not make a single syscall in it)",
                       t.tid, pid));
  if (t.seccomp_mode != SECCOMP_MODE_FILTER)
    throw Error(format("cannot dump thread %d of pid %d: it runs under seccomp mode %d, unknown to ckpt", t.tid, pid,
                       t.seccomp_mode));
  std::vector<compel::SeccompFilter> filters;
  try {
    filters = tree.seccomp_filters(t.tid);
  } catch (const compel::TaskDied&) {
    throw;
  } catch (const compel::Error& e) {
    throw Error(format("cannot dump thread %d of pid %d: %s", t.tid, pid, e.what()));
  }
  if (filters.empty())
    throw Error(format("cannot dump thread %d of pid %d: it runs under seccomp filters, but ptrace shows none", t.tid,
                       pid));
  for (size_t i = 0; i < filters.size(); i++)
    if (notifies_user(filters[i]))
      throw Error(format("cannot dump thread %d of pid %d: its seccomp filter %zu (of %zu, 0 the oldest) can return "
                         "SECCOMP_RET_USER_NOTIF, and its listener cannot be restored",
                         t.tid, pid, i, filters.size()));
  t.seccomp_filters = std::move(filters);
  LOG_DEBUG("thread %d of pid %d: %zu seccomp filters", t.tid, pid, t.seccomp_filters.size());
}

ThreadSnapshot snapshot_thread(const compel::FrozenTree& tree, pid_t pid, const compel::Thread& thread) {
  ThreadSnapshot t;
  t.tid = thread.tid;
  if (thread.state == compel::TaskState::Zombie) {
    t.exited = true;
    t.comm = read_comm(pid, thread.tid);
    LOG_DEBUG("thread %d of pid %d: the main thread, exited", t.tid, pid);
    return t;
  }
  t.regs = tree.get_registers(thread.tid);
  t.syscall = tree.syscall_state(thread.tid);
  t.blocked = tree.blocked_mask(thread.tid);
  t.pending = tree.pending_signals(thread.tid, false);
  t.comm = read_comm(pid, thread.tid);
  std::string stat_path = proc::path(pid, "task/" + std::to_string(thread.tid) + "/stat");
  t.exit_signal = proc::parse_stat(proc::read_file(stat_path), stat_path).exit_signal;
  std::string status_path = proc::path(pid, "task/" + std::to_string(thread.tid) + "/status");
  t.seccomp_mode = proc::parse_status(proc::read_file(status_path), status_path).seccomp;
  read_seccomp(tree, pid, t);
  void* head = nullptr;
  size_t len = 0;
  if (syscall(SYS_get_robust_list, thread.tid, &head, &len) < 0)
    throw sys_error(format("cannot read the robust futex list of thread %d", thread.tid));
  t.robust_list = reinterpret_cast<uint64_t>(head);
  t.robust_list_len = len;
  t.sched = task::read_sched(pid, thread.tid);
  t.affinity = task::read_affinity(pid, thread.tid);
  LOG_DEBUG("thread %d: ip %llx sp %llx, in syscall %ld, blocked %llx, %zu pending signals, %zu bytes of xstate",
            t.tid, (unsigned long long)t.regs.gp.rip, (unsigned long long)t.regs.gp.rsp, t.syscall.nr,
            (unsigned long long)t.blocked, t.pending.size(), t.regs.xstate.size());
  return t;
}

}  // namespace

pid_t proc_id_of(const compel::Process& process) {
  for (const compel::Thread& t : process.threads)
    if (t.state != compel::TaskState::Zombie) return t.tid;
  return process.pid;
}

ProcessSnapshot snapshot_process(const compel::FrozenTree& tree, const compel::Process& process) {
  ProcessSnapshot s;
  s.pid = process.pid;
  s.proc_id = proc_id_of(process);
  s.state = process.state;
  s.stop_signal = process.stop_signal;
  pid_t at = s.proc_id;
  std::string stat_path = proc::path(at, "stat"), status_path = proc::path(at, "status");
  s.stat = proc::parse_stat(proc::read_file(stat_path), stat_path);
  s.status = proc::parse_status(proc::read_file(status_path), status_path);
  s.rlimits = read_rlimits(at);
  s.oom_score_adj = std::stoi(proc::read_file(proc::path(at, "oom_score_adj")));
  s.cwd = proc::read_link(proc::path(at, "cwd"));
  s.root = proc::read_link(proc::path(at, "root"));
  std::vector<pid_t> live;
  for (const compel::Thread& thread : process.threads) {
    s.threads.push_back(snapshot_thread(tree, s.pid, thread));
    if (!s.threads.back().exited) live.push_back(thread.tid);
  }
  s.loginuid = task::read_loginuid(s.pid, live);
  s.autogroup_nice = task::read_autogroup_nice(at);
  s.shared_pending = tree.pending_signals(at, true);
  LOG_DEBUG("pid %d (%s): state %c, cwd %s, root %s, %zu shared pending signals", s.pid, s.stat.comm.c_str(),
            s.stat.state, s.cwd.c_str(), s.root.c_str(), s.shared_pending.size());
  return s;
}

}  // namespace ckpt::dump
