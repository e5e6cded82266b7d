// Per-thread state, read from outside the thread's code: its credentials
// from /proc/PID/task/TID/status, and what only the thread itself can ask
// (Linux keeps it per thread and offers no way to read another thread's)
// by single remote syscalls in that thread, their memory arguments in the
// scratch buffer.  No parasite code runs in the thread: only the main
// thread may run that.
#include <asm/prctl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "ckpt/mempolicy.h"
#include "infect.h"
#include "proc.h"
#include "rseq.h"
#include "thread_status.h"

namespace compel {

namespace {

// The scratch buffer while one thread's state is read: what the syscalls
// write through their pointer arguments, zeroed before them (so a field a
// failed call leaves alone reads 0).
struct ThreadScratch {
  struct {  // the kernel's stack_t
    uint64_t sp;
    int32_t flags;
    int32_t pad;
    uint64_t size;
  } altstack;
  uint64_t clear_child_tid;  // PR_GET_TID_ADDRESS
  int32_t pdeath_sig;        // PR_GET_PDEATHSIG
  int32_t tsc;               // PR_GET_TSC
  int32_t mempolicy_mode;    // get_mempolicy: the mode or'ed with its flags
  int32_t pad;
  uint64_t mempolicy_nodes[CKPT_MEMPOLICY_WORDS];
};
static_assert(sizeof(ThreadScratch) <= Infection::Impl::kScratchSize);
static_assert(offsetof(ThreadScratch, altstack.size) == 16 && sizeof(ThreadScratch::altstack) == sizeof(stack_t));

// The mode flags get_mempolicy(2) or's into the mode: MPOL_F_STATIC_NODES,
// MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING.
constexpr uint32_t kMempolicyModeFlags = (1u << 15) | (1u << 14) | (1u << 13);

constexpr int kSpeculationKinds = 3;  // PR_SPEC_STORE_BYPASS, _INDIRECT_BRANCH, _L1D_FLUSH

// The remote syscalls of one thread, each named in the errors.
class ThreadCalls {
 public:
  ThreadCalls(Infection::Impl& m, pid_t tid) : m_(m), tid_(tid) {}

  uint64_t at(size_t offset) const { return m_.scratch() + offset; }

  // The raw result (-errno on failure).
  long call(long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    return m_.thread_syscall(tid_, nr, a1, a2, a3, a4, a5);
  }
  // The result, which must not be an error.
  long must(const char* what, long nr, uint64_t a1 = 0, uint64_t a2 = 0) {
    long r = call(nr, a1, a2);
    if (r < 0) fail(std::string(what) + " failed: " + detail::errno_text(static_cast<int>(-r)));
    return r;
  }

  void put(const ThreadScratch& s) {
    if (!detail::write_mem(m_.main_tid, m_.scratch(), &s, sizeof(s)))
      fail("clearing the scratch buffer failed: " + detail::errno_text(errno));
  }
  ThreadScratch get() {
    ThreadScratch s;
    if (!detail::read_mem(m_.main_tid, m_.scratch(), &s, sizeof(s)))
      fail("reading the scratch buffer failed: " + detail::errno_text(errno));
    return s;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("cannot read the state of thread " + std::to_string(tid_) + " of " + m_.who() + ": " + why);
  }

 private:
  Infection::Impl& m_;
  pid_t tid_;
};

// Everything the thread answers itself: 12 remote syscalls.
void read_by_syscalls(ThreadCalls& c, ThreadInfo& info) {
  c.put(ThreadScratch{});
  c.must("sigaltstack", SYS_sigaltstack, 0, c.at(offsetof(ThreadScratch, altstack)));
  long r = c.call(SYS_prctl, PR_GET_TID_ADDRESS, c.at(offsetof(ThreadScratch, clear_child_tid)));
  if (r < 0 && r != -EINVAL)  // EINVAL: a kernel without CONFIG_CHECKPOINT_RESTORE; 0 then
    c.fail(std::string("prctl(PR_GET_TID_ADDRESS) failed: ") + detail::errno_text(static_cast<int>(-r)));
  info.timer_slack_ns = static_cast<uint64_t>(c.must("prctl(PR_GET_TIMERSLACK)", SYS_prctl, PR_GET_TIMERSLACK));
  c.must("prctl(PR_GET_PDEATHSIG)", SYS_prctl, PR_GET_PDEATHSIG, c.at(offsetof(ThreadScratch, pdeath_sig)));
  // A kind the kernel does not know reports -errno, which is kept.
  for (int kind = 0; kind < kSpeculationKinds; kind++)
    info.speculation[kind] = static_cast<int>(c.call(SYS_prctl, PR_GET_SPECULATION_CTRL, kind));
  c.must("prctl(PR_GET_TSC)", SYS_prctl, PR_GET_TSC, c.at(offsetof(ThreadScratch, tsc)));
  info.mce_kill = static_cast<int>(c.must("prctl(PR_MCE_KILL_GET)", SYS_prctl, PR_MCE_KILL_GET));
  info.cpuid = static_cast<int>(c.call(SYS_arch_prctl, ARCH_GET_CPUID));  // -errno kept
  // A kernel without NUMA says ENOSYS: nothing to restore then.
  info.mempolicy_ret = static_cast<int>(c.call(SYS_get_mempolicy, c.at(offsetof(ThreadScratch, mempolicy_mode)),
                                               c.at(offsetof(ThreadScratch, mempolicy_nodes)),
                                               CKPT_MEMPOLICY_MAXNODE, 0, 0));
  info.creds.securebits = static_cast<uint32_t>(c.must("prctl(PR_GET_SECUREBITS)", SYS_prctl, PR_GET_SECUREBITS));

  ThreadScratch s = c.get();
  info.altstack_sp = s.altstack.sp;
  info.altstack_flags = s.altstack.flags;
  info.altstack_size = s.altstack.size;
  info.clear_child_tid = s.clear_child_tid;
  info.pdeath_sig = s.pdeath_sig;
  info.tsc = s.tsc;
  if (info.mempolicy_ret < 0) {
    std::memset(s.mempolicy_nodes, 0, sizeof(s.mempolicy_nodes));
    s.mempolicy_mode = 0;
  }
  info.mempolicy_mode = static_cast<uint32_t>(s.mempolicy_mode) & ~kMempolicyModeFlags;
  info.mempolicy_flags = static_cast<uint32_t>(s.mempolicy_mode) & kMempolicyModeFlags;
  info.mempolicy_nodes.assign(std::begin(s.mempolicy_nodes), std::end(s.mempolicy_nodes));
}

// Ids, groups, capabilities and no_new_privs from the thread's status file.
void read_creds(const ThreadCalls& c, pid_t pid, pid_t tid, Creds& creds) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status";
  std::optional<std::string> text = proc::read_file(path);
  if (!text) {
    if (proc::is_dead(tid)) detail::throw_died(tid, "reading " + path);
    c.fail("cannot read " + path + ": " + detail::errno_text(errno));
  }
  std::string error;
  std::optional<proc::ThreadStatus> st = proc::parse_thread_status(*text, &error);
  if (!st) c.fail(path + ": " + error);
  creds.uid = st->uid[0];
  creds.euid = st->uid[1];
  creds.suid = st->uid[2];
  creds.fsuid = st->uid[3];
  creds.gid = st->gid[0];
  creds.egid = st->gid[1];
  creds.sgid = st->gid[2];
  creds.fsgid = st->gid[3];
  creds.groups = std::move(st->groups);
  creds.cap_inh = st->cap_inh;
  creds.cap_prm = st->cap_prm;
  creds.cap_eff = st->cap_eff;
  creds.cap_bnd = st->cap_bnd;
  creds.cap_amb = st->cap_amb;
  creds.no_new_privs = st->no_new_privs;
}

}  // namespace

std::vector<ThreadInfo> Infection::thread_info() {
  if (!impl_ || !impl_->tree) throw Error("the infection is already cured");
  Impl& m = *impl_;
  std::vector<ThreadInfo> out;
  const Process* p = m.tree->find_process(m.pid);
  for (const Thread& th : p->threads) {
    if (th.state == TaskState::Zombie) continue;  // an exited main thread
    detail::ThreadRecord& t = m.borrow(th.tid);
    ThreadCalls calls(m, th.tid);
    ThreadInfo info{};
    info.tid = th.tid;
    info.blocked = t.borrowed->sigmask;
    read_by_syscalls(calls, info);
    // Whether the thread was on its alternate stack shows in its saved
    // stack pointer (sigaltstack judged by the stack pointer the remote
    // syscall ran with, and by a slightly different bound).
    uint64_t sp = t.borrowed->gp.rsp;
    info.altstack_flags &= ~SS_ONSTACK;
    if (!(info.altstack_flags & SS_DISABLE) && sp - info.altstack_sp < info.altstack_size)
      info.altstack_flags |= SS_ONSTACK;
    read_creds(calls, m.pid, th.tid, info.creds);
    const detail::RseqConfig& rseq = m.rseq_configs.at(th.tid);
    info.rseq_ptr = rseq.ptr;
    info.rseq_len = rseq.len;
    info.rseq_sig = rseq.sig;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace compel
