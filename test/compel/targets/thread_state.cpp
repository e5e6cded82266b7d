// Threads with per-thread state of their own, each set by the thread for
// itself with raw syscalls (glibc would apply credential changes to every
// thread): timer slack, parent-death signal, alternate stack, ids, groups,
// securebits, capability sets, no_new_privs, machine-check policy,
// speculation control, NUMA policy, TSC and CPUID faulting.  Each thread
// then reads its state back the way only it can, as "key=value" words; the
// main thread says one "thread TID WORDS" line per thread, main first, then
// "ready N".  Told "stop", every thread reads its state again and the
// target fails if any of it changed.
#include <asm/prctl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "target.h"

namespace {

constexpr int kWorkers = 3;
constexpr int kMempolicyWords = 16;  // include/ckpt/mempolicy.h
constexpr unsigned long kMempolicyMaxnode = kMempolicyWords * 64 + 1;
constexpr uint32_t kMempolicyModeFlags = (1u << 15) | (1u << 14) | (1u << 13);

long raw(long r) { return r < 0 ? -errno : r; }
long prctl_raw(long op, unsigned long a2 = 0, unsigned long a3 = 0, unsigned long a4 = 0, unsigned long a5 = 0) {
  return raw(syscall(SYS_prctl, op, a2, a3, a4, a5));
}

void require(long r, const char* what) {
  if (r < 0) target::fail("%s: %s", what, strerror(static_cast<int>(-r)));
}

// Everything the thread itself can read of its own state, as compel's
// ThreadInfo names it (test/compel/test_thread_state.cpp builds the same
// words from it).
std::string own_state() {
  std::string out;
  auto word = [&](const char* key, const std::string& value) { out += std::string(" ") + key + "=" + value; };
  auto num = [](long long v) { return std::to_string(v); };
  stack_t ss;
  if (sigaltstack(nullptr, &ss) != 0) target::fail("sigaltstack: %s", strerror(errno));
  word("altstack", num(reinterpret_cast<intptr_t>(ss.ss_sp)) + "," + num(static_cast<long long>(ss.ss_size)) + "," +
                       num(ss.ss_flags));
  uint64_t ctid = 0;
  long r = prctl_raw(PR_GET_TID_ADDRESS, reinterpret_cast<unsigned long>(&ctid));
  if (r < 0 && r != -EINVAL) require(r, "PR_GET_TID_ADDRESS");
  word("clear_child_tid", num(static_cast<long long>(ctid)));
  word("timer_slack", num(prctl_raw(PR_GET_TIMERSLACK)));
  int pdeath = 0;
  require(prctl_raw(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&pdeath)), "PR_GET_PDEATHSIG");
  word("pdeath_sig", num(pdeath));
  for (int kind = 0; kind < 3; kind++)
    word(("speculation" + std::to_string(kind)).c_str(), num(prctl_raw(PR_GET_SPECULATION_CTRL, kind)));
  int tsc = 0;
  require(prctl_raw(PR_GET_TSC, reinterpret_cast<unsigned long>(&tsc)), "PR_GET_TSC");
  word("tsc", num(tsc));
  word("mce_kill", num(prctl_raw(PR_MCE_KILL_GET)));
  word("cpuid", num(raw(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0))));
  int mode = 0;
  uint64_t nodes[kMempolicyWords] = {};
  long mr = raw(syscall(SYS_get_mempolicy, &mode, nodes, kMempolicyMaxnode, 0, 0));
  if (mr < 0) mode = 0;
  std::string nodes_text;
  for (int i = 0; i < kMempolicyWords; i++) nodes_text += (i ? "," : "") + num(mr < 0 ? 0 : static_cast<long long>(nodes[i]));
  word("mempolicy", num(mr) + "," + num(mode & ~kMempolicyModeFlags) + "," + num(mode & kMempolicyModeFlags) + "," +
                        nodes_text);
  uid_t u[3];
  gid_t g[3];
  require(raw(syscall(SYS_getresuid, &u[0], &u[1], &u[2])), "getresuid");
  require(raw(syscall(SYS_getresgid, &g[0], &g[1], &g[2])), "getresgid");
  long fsuid = syscall(SYS_setfsuid, -1), fsgid = syscall(SYS_setfsgid, -1);
  word("uids", num(u[0]) + "," + num(u[1]) + "," + num(u[2]) + "," + num(fsuid));
  word("gids", num(g[0]) + "," + num(g[1]) + "," + num(g[2]) + "," + num(fsgid));
  std::vector<gid_t> groups(65536);
  long n = raw(syscall(SYS_getgroups, groups.size(), groups.data()));
  require(n, "getgroups");
  std::string groups_text;
  for (long i = 0; i < n; i++) groups_text += (i ? "," : "") + num(groups[static_cast<size_t>(i)]);
  word("groups", groups_text);
  __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  require(raw(syscall(SYS_capget, &hdr, data)), "capget");
  auto cap64 = [&](uint32_t __user_cap_data_struct::*f) { return (uint64_t)(data[1].*f) << 32 | data[0].*f; };
  uint64_t bnd = 0, amb = 0;
  for (int cap = 0; cap < 64 && prctl_raw(PR_CAPBSET_READ, cap) >= 0; cap++) {
    if (prctl_raw(PR_CAPBSET_READ, cap) > 0) bnd |= 1ULL << cap;
    if (prctl_raw(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap) > 0) amb |= 1ULL << cap;
  }
  word("caps", num((long long)cap64(&__user_cap_data_struct::inheritable)) + "," +
                   num((long long)cap64(&__user_cap_data_struct::permitted)) + "," +
                   num((long long)cap64(&__user_cap_data_struct::effective)) + "," + num((long long)bnd) + "," +
                   num((long long)amb));
  word("securebits", num(prctl_raw(PR_GET_SECUREBITS)));
  word("no_new_privs", num(prctl_raw(PR_GET_NO_NEW_PRIVS)));
  return out;
}

// Thread `index` (1..kWorkers) makes its state its own.
void make_own_state(int index) {
  bool root = geteuid() == 0;
  if (index == 1) {
    require(prctl_raw(PR_SET_TIMERSLACK, 123456), "PR_SET_TIMERSLACK");
    static char altstack[65536];
    stack_t ss = {altstack, 0, sizeof(altstack)};
    if (sigaltstack(&ss, nullptr) != 0) target::fail("sigaltstack: %s", strerror(errno));
    require(prctl_raw(PR_SET_NO_NEW_PRIVS, 1), "PR_SET_NO_NEW_PRIVS");
    if (root) {
      gid_t groups[] = {11, 22, 33};
      require(raw(syscall(SYS_setgroups, 3, groups)), "setgroups");
      require(raw(syscall(SYS_setresgid, 5, 6, 7)), "setresgid");
      syscall(SYS_setfsgid, 8);
      require(prctl_raw(PR_SET_SECUREBITS, 1 << 4 /* SECBIT_KEEP_CAPS */), "PR_SET_SECUREBITS");
      require(raw(syscall(SYS_setresuid, 0, 0, 4242)), "setresuid");
    }
    // After the credentials: changing them resets the parent-death signal.
    require(prctl_raw(PR_SET_PDEATHSIG, SIGUSR2), "PR_SET_PDEATHSIG");
  } else if (index == 2) {
    require(prctl_raw(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY), "PR_MCE_KILL");
    prctl_raw(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE);  // where the kernel allows it
    unsigned long node0 = 1;
    syscall(SYS_set_mempolicy, 1 /* MPOL_PREFERRED */, &node0, 2);  // ENOSYS without NUMA
    if (root) {
      require(prctl_raw(PR_CAPBSET_DROP, CAP_SYS_BOOT), "PR_CAPBSET_DROP");
      __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
      require(raw(syscall(SYS_capget, &hdr, data)), "capget");
      data[0].inheritable |= 1u << CAP_NET_BIND_SERVICE;
      require(raw(syscall(SYS_capset, &hdr, data)), "capset");
      require(prctl_raw(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE), "PR_CAP_AMBIENT_RAISE");
      syscall(SYS_setfsuid, 77);
    }
  } else {
    // This thread runs no rdtsc nor cpuid afterwards (no clock_gettime).
    prctl_raw(PR_SET_TSC, PR_TSC_SIGSEGV);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);  // where the CPU can fault CPUID
  }
}

int wake[2];
std::atomic<int> started{0};

struct Worker {
  pthread_t thread;
  int index;
  pid_t tid;
  std::string before, after;
} workers[kWorkers];

void* run(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  w.tid = static_cast<pid_t>(syscall(SYS_gettid));
  make_own_state(w.index);
  w.before = own_state();
  started++;
  char c;
  if (read(wake[0], &c, 1) != 0) target::fail("thread %d read from the wake pipe", w.tid);
  w.after = own_state();
  return nullptr;
}

}  // namespace

int main() {
  if (pipe(wake) != 0) target::fail("pipe: %s", strerror(errno));
  for (int i = 0; i < kWorkers; i++) {
    workers[i].index = i + 1;
    if (pthread_create(&workers[i].thread, nullptr, run, &workers[i]) != 0) target::fail("pthread_create");
  }
  while (started.load() < kWorkers) sched_yield();
  std::string main_before = own_state();
  target::say("thread %d%s", getpid(), main_before.c_str());
  for (Worker& w : workers) target::say("thread %d%s", w.tid, w.before.c_str());
  target::say("ready %d", kWorkers + 1);
  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("main thread read \"%s\"", cmd.c_str());
  if (own_state() != main_before) target::fail("the main thread's state changed:%s", own_state().c_str());
  close(wake[1]);
  for (Worker& w : workers) {
    pthread_join(w.thread, nullptr);
    if (w.after != w.before) target::fail("thread %d's state changed:\n%s\n%s", w.tid, w.before.c_str(), w.after.c_str());
  }
  return 0;
}
