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

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "ckpt/mempolicy.h"
#include "infect.h"
#include "proc.h"
#include "remote_syscall.h"
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

// What the thread answers itself: 12 remote syscalls, in this order, their
// memory arguments in its ThreadScratch.
enum CallIndex {
  kAltstack, kTidAddress, kTimerSlack, kPdeathSig, kSpeculation, kTsc = kSpeculation + kSpeculationKinds,
  kMceKill, kCpuid, kMempolicy, kSecurebits, kCalls
};
struct Call {
  long nr;
  uint64_t args[6];
};
using Results = std::array<long, kCalls>;

std::array<Call, kCalls> state_calls(uint64_t scratch) {
  auto at = [&](size_t offset) { return scratch + offset; };
  std::array<Call, kCalls> c{};
  c[kAltstack] = {SYS_sigaltstack, {0, at(offsetof(ThreadScratch, altstack))}};
  c[kTidAddress] = {SYS_prctl, {PR_GET_TID_ADDRESS, at(offsetof(ThreadScratch, clear_child_tid))}};
  c[kTimerSlack] = {SYS_prctl, {PR_GET_TIMERSLACK}};
  c[kPdeathSig] = {SYS_prctl, {PR_GET_PDEATHSIG, at(offsetof(ThreadScratch, pdeath_sig))}};
  for (int kind = 0; kind < kSpeculationKinds; kind++)
    c[kSpeculation + kind] = {SYS_prctl, {PR_GET_SPECULATION_CTRL, uint64_t(kind)}};
  c[kTsc] = {SYS_prctl, {PR_GET_TSC, at(offsetof(ThreadScratch, tsc))}};
  c[kMceKill] = {SYS_prctl, {PR_MCE_KILL_GET}};
  c[kCpuid] = {SYS_arch_prctl, {ARCH_GET_CPUID}};
  c[kMempolicy] = {SYS_get_mempolicy, {at(offsetof(ThreadScratch, mempolicy_mode)),
                                       at(offsetof(ThreadScratch, mempolicy_nodes)), CKPT_MEMPOLICY_MAXNODE}};
  c[kSecurebits] = {SYS_prctl, {PR_GET_SECUREBITS}};
  return c;
}

// Errors name the thread.
class ThreadErrors {
 public:
  ThreadErrors(const Infection::Impl& m, pid_t tid) : m_(m), tid_(tid) {}
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("cannot read the state of thread " + std::to_string(tid_) + " of " + m_.who() + ": " + why);
  }
  // r, which must not be an error.
  long must(const char* what, long r) const {
    if (r < 0) fail(std::string(what) + " failed: " + detail::errno_text(static_cast<int>(-r)));
    return r;
  }

 private:
  const Infection::Impl& m_;
  pid_t tid_;
};

void take_results(const ThreadErrors& e, const Results& r, ThreadScratch s, ThreadInfo& info) {
  e.must("sigaltstack", r[kAltstack]);
  if (r[kTidAddress] < 0 && r[kTidAddress] != -EINVAL)  // EINVAL: a kernel without CONFIG_CHECKPOINT_RESTORE; 0 then
    e.fail(std::string("prctl(PR_GET_TID_ADDRESS) failed: ") + detail::errno_text(static_cast<int>(-r[kTidAddress])));
  info.timer_slack_ns = static_cast<uint64_t>(e.must("prctl(PR_GET_TIMERSLACK)", r[kTimerSlack]));
  e.must("prctl(PR_GET_PDEATHSIG)", r[kPdeathSig]);
  // A kind the kernel does not know reports -errno, which is kept.
  for (int kind = 0; kind < kSpeculationKinds; kind++) info.speculation[kind] = static_cast<int>(r[kSpeculation + kind]);
  e.must("prctl(PR_GET_TSC)", r[kTsc]);
  info.mce_kill = static_cast<int>(e.must("prctl(PR_MCE_KILL_GET)", r[kMceKill]));
  info.cpuid = static_cast<int>(r[kCpuid]);  // -errno kept
  // A kernel without NUMA says ENOSYS: nothing to restore then.
  info.mempolicy_ret = static_cast<int>(r[kMempolicy]);
  info.creds.securebits = static_cast<uint32_t>(e.must("prctl(PR_GET_SECUREBITS)", r[kSecurebits]));

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

// The calls of every thread of a batch, call by call: the other threads'
// round trips overlap (detail::parked_syscalls); the parasite's own thread
// takes its calls as parasite commands.  Scratch slot i is batch[i]'s.
std::vector<Results> run_calls(Infection::Impl& m, const std::vector<pid_t>& batch) {
  std::vector<std::array<Call, kCalls>> calls;
  for (size_t i = 0; i < batch.size(); i++) calls.push_back(state_calls(m.scratch() + i * sizeof(ThreadScratch)));
  std::vector<Results> results(batch.size());
  for (int k = 0; k < kCalls; k++) {
    std::vector<detail::ParkedCall> parked;
    std::vector<size_t> who;
    for (size_t i = 0; i < batch.size(); i++) {
      const Call& c = calls[i][k];
      if (batch[i] == m.main_tid) {
        results[i][k] = m.syscall(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]);
        continue;
      }
      detail::ThreadRecord& t = m.borrow(batch[i]);
      parked.push_back({&t, m.chains.at(t.tid).parked_sp(), c.nr,
                        {c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]}});
      who.push_back(i);
    }
    detail::parked_syscalls(parked, m.gadgets, m.tree->deadline());
    for (size_t j = 0; j < parked.size(); j++) results[who[j]][k] = parked[j].result;
  }
  return results;
}

// Ids, groups, capabilities and no_new_privs from the thread's status file.
void read_creds(const ThreadErrors& c, pid_t pid, pid_t tid, Creds& creds) {
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
  std::vector<pid_t> live;
  for (const Thread& th : m.tree->find_process(m.pid)->threads)
    if (th.state != TaskState::Zombie) live.push_back(th.tid);  // not an exited main thread
  constexpr size_t kBatch = Impl::kScratchSize / sizeof(ThreadScratch);
  std::vector<ThreadInfo> out;
  for (size_t first = 0; first < live.size(); first += kBatch) {
    std::vector<pid_t> batch(live.begin() + first, live.begin() + std::min(live.size(), first + kBatch));
    std::vector<ThreadScratch> scratch(batch.size());
    if (!detail::write_mem(m.main_tid, m.scratch(), scratch.data(), scratch.size() * sizeof(ThreadScratch)))
      throw Error("cannot read the state of the threads of " + m.who() + ": clearing the scratch buffer failed: " +
                  detail::errno_text(errno));
    std::vector<Results> results = run_calls(m, batch);
    if (!detail::read_mem(m.main_tid, m.scratch(), scratch.data(), scratch.size() * sizeof(ThreadScratch)))
      throw Error("cannot read the state of the threads of " + m.who() + ": reading the scratch buffer failed: " +
                  detail::errno_text(errno));
    for (size_t i = 0; i < batch.size(); i++) {
      detail::ThreadRecord& t = m.borrow(batch[i]);
      ThreadErrors errors(m, t.tid);
      ThreadInfo info{};
      info.tid = t.tid;
      info.blocked = t.borrowed->sigmask;
      take_results(errors, results[i], scratch[i], info);
      // Whether the thread was on its alternate stack shows in its saved
      // stack pointer (sigaltstack judged by the stack pointer the remote
      // syscall ran with, and by a slightly different bound).
      uint64_t sp = t.borrowed->gp.rsp;
      info.altstack_flags &= ~SS_ONSTACK;
      if (!(info.altstack_flags & SS_DISABLE) && sp - info.altstack_sp < info.altstack_size)
        info.altstack_flags |= SS_ONSTACK;
      read_creds(errors, m.pid, t.tid, info.creds);
      const detail::RseqConfig& rseq = m.rseq_configs.at(t.tid);
      info.rseq_ptr = rseq.ptr;
      info.rseq_len = rseq.len;
      info.rseq_sig = rseq.sig;
      out.push_back(std::move(info));
    }
  }
  return out;
}

}  // namespace compel
