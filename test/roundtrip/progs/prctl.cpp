// The prctl family and the audit login uid across the round trip, each set
// to a value other than the default:
//   P (the root), for the process: THP disabled (except where advised, if
//     the kernel knows it), every membarrier registration (global
//     expedited, private expedited, its SYNC_CORE and RSEQ flavours), the
//     audit loginuid 4242 (written before any thread exists, so all have it);
//   P's threads, each its own: timer slack (main 77777 ns, T1 123456, T2
//     999), T1 no_new_privs, PR_SET_KEEPCAPS and PR_TSC_SIGSEGV, T2
//     securebits NO_SETUID_FIXUP|NOROOT and machine-check kill early (main:
//     late), and the speculation controls as this machine lets them be set
//     (store bypass disabled in T1 where it can be);
//   C, P's child: a thread CT that changes its uid (which makes the kernel
//     clear C's dumpable flag), then C sets dumpable 1 again; parent-death
//     signals per thread (C: SIGRTMIN+2, CT: SIGRTMIN+3, set by CT after its
//     uid change, which clears it), CT's timer slack 4321 and CPUID
//     faulting (where the CPU has it).
// (The root has no pdeath signal: its parent after a restore with -d is
// ckpt, which exits; see pdeath_root.cpp.)  Each thread checks its own
// values after the restore; C reports through shared memory.  Must run as
// root.
#include "mtlib.h"

#include <fcntl.h>
#include <linux/securebits.h>
#include <sys/mman.h>
#include <sys/prctl.h>

namespace {

#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED (1 << 1)
#endif
constexpr int kMembarrierGetRegistrations = 1 << 9;
constexpr int kMembarrierRegister[] = {1 << 2, 1 << 4, 1 << 6, 1 << 8};
constexpr uint32_t kLoginuid = 4242;
constexpr unsigned kT2Securebits = SECBIT_NO_SETUID_FIXUP | SECBIT_NOROOT;

long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

struct Spec {
  long v[3];
};
Spec read_spec() {
  Spec s;
  for (int k = 0; k < 3; k++) s.v[k] = prctl(PR_GET_SPECULATION_CTRL, k, 0, 0, 0);
  return s;
}

// What a thread had before the dump, and checks it has it again.
struct ThreadWant {
  const char* name;
  unsigned long slack;
  int no_new_privs, keepcaps;
  int securebits;   // -1: whatever it had (recorded)
  int pdeath;
};

struct ThreadState {
  long slack, nnp, keepcaps, securebits, mce_kill, cpuid;
  int pdeath, tsc;
  Spec spec;
};

ThreadState read_state() {
  ThreadState s;
  s.slack = prctl(PR_GET_TIMERSLACK);
  s.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  s.keepcaps = prctl(PR_GET_KEEPCAPS);
  s.securebits = prctl(PR_GET_SECUREBITS);
  s.pdeath = 0;
  prctl(PR_GET_PDEATHSIG, &s.pdeath);
  s.spec = read_spec();
  s.tsc = 0;
  prctl(PR_GET_TSC, &s.tsc);
  s.mce_kill = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
  s.cpuid = syscall(SYS_arch_prctl, 0x1011 /* ARCH_GET_CPUID */, 0);
  return s;
}

void compare(rt::Report& r, const char* who, const ThreadState& before) {
  ThreadState now = read_state();
  RT_TCHECK(r, now.slack == before.slack, "%s: timer slack %ld ns, was %ld", who, now.slack, before.slack);
  RT_TCHECK(r, now.nnp == before.nnp, "%s: no_new_privs %ld, was %ld", who, now.nnp, before.nnp);
  RT_TCHECK(r, now.keepcaps == before.keepcaps, "%s: keepcaps %ld, was %ld", who, now.keepcaps, before.keepcaps);
  RT_TCHECK(r, now.securebits == before.securebits, "%s: securebits %#lx, was %#lx", who, now.securebits,
            before.securebits);
  RT_TCHECK(r, now.pdeath == before.pdeath, "%s: pdeath signal %d, was %d", who, now.pdeath, before.pdeath);
  RT_TCHECK(r, now.tsc == before.tsc, "%s: PR_GET_TSC %d, was %d", who, now.tsc, before.tsc);
  RT_TCHECK(r, now.mce_kill == before.mce_kill, "%s: PR_MCE_KILL_GET %ld, was %ld", who, now.mce_kill,
            before.mce_kill);
  RT_TCHECK(r, now.cpuid == before.cpuid, "%s: ARCH_GET_CPUID %ld, was %ld", who, now.cpuid, before.cpuid);
  for (int k = 0; k < 3; k++)
    RT_TCHECK(r, now.spec.v[k] == before.spec.v[k], "%s: speculation control %d is %ld, was %ld", who, k,
              now.spec.v[k], before.spec.v[k]);
  r.pass();
}

// --- P's threads ---

struct Slot {
  pthread_t handle{};
  ThreadState before{};
  rt::Report report{};
  char error[128] = {};
};
Slot g_t1, g_t2;
std::atomic<int> g_set_up{0}, g_go{0};

void* run_t1(void*) {
  Slot& s = g_t1;
  // (From here on T1's RDTSC faults: it reads no clock.)
  if (prctl(PR_SET_TIMERSLACK, 123456) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      prctl(PR_SET_KEEPCAPS, 1) < 0 || prctl(PR_SET_TSC, PR_TSC_SIGSEGV) < 0)
    snprintf(s.error, sizeof(s.error), "T1 prctl: %s", strerror(errno));
  // Only where this machine lets a thread choose (PR_SPEC_PRCTL).
  long ssb = prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0);
  if (ssb > 0 && (ssb & PR_SPEC_PRCTL)) prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0);
  s.before = read_state();
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  compare(s.report, "T1", s.before);
  return nullptr;
}

void* run_t2(void*) {
  Slot& s = g_t2;
  if (prctl(PR_SET_TIMERSLACK, 999) < 0 || prctl(PR_SET_SECUREBITS, kT2Securebits) < 0 ||
      prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0) < 0)
    snprintf(s.error, sizeof(s.error), "T2 prctl: %s", strerror(errno));
  s.before = read_state();
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  compare(s.report, "T2", s.before);
  return nullptr;
}

// --- C ---

struct Shared {
  std::atomic<int> ready{0};
  std::atomic<int> done{0};  // 1 passed, 2 failed
  char why[400];
};
Shared* g_shared;

Slot g_ct;
std::atomic<int> g_ct_go{0};

void* run_ct(void*) {
  Slot& s = g_ct;
  // Raw calls: glibc's setresuid would change every thread.
  if (syscall(SYS_setresuid, 1000, 1000, 1000) < 0 || prctl(PR_SET_PDEATHSIG, SIGRTMIN + 3) < 0 ||
      prctl(PR_SET_TIMERSLACK, 4321) < 0)
    snprintf(s.error, sizeof(s.error), "CT: %s", strerror(errno));
  // CPUID faulting where the CPU has it (ENODEV otherwise).
  syscall(SYS_arch_prctl, 0x1012 /* ARCH_SET_CPUID */, 0);
  s.before = read_state();
  rt::add_wake(g_set_up, 1);
  while (g_ct_go.load() == 0) rt::futex_wait(g_ct_go, 0, nullptr);
  compare(s.report, "CT", s.before);
  return nullptr;
}

[[noreturn]] void child_fail(const char* fmt, const char* what) {
  snprintf(g_shared->why, sizeof(g_shared->why), fmt, what);
  rt::store_wake(g_shared->done, 2, true);
  _exit(1);
}

[[noreturn]] void run_c() {
  g_set_up = 0;
  if (pthread_create(&g_ct.handle, nullptr, run_ct, nullptr) != 0) child_fail("C: %s", "pthread_create");
  if (!rt::await_at_least(g_set_up, 1, 30)) child_fail("C: %s", "CT did not set up");
  if (g_ct.error[0]) child_fail("%s", g_ct.error);
  int cleared = prctl(PR_GET_DUMPABLE);
  if (prctl(PR_SET_DUMPABLE, 1) < 0 || prctl(PR_SET_PDEATHSIG, SIGRTMIN + 2) < 0) child_fail("C: %s", strerror(errno));
  ThreadState before = read_state();
  int dumpable = prctl(PR_GET_DUMPABLE);
  if (cleared != 0 || dumpable != 1) child_fail("C: %s", "dumpable was not cleared by CT's uid change, or not set");
  rt::store_wake(g_shared->ready, 1, true);
  rt::await_signal(SIGTERM, "SIGTERM in C", rt::kWaitLimitSeconds);

  rt::Verdict v;
  if (prctl(PR_GET_DUMPABLE) != dumpable) v.add("C: dumpable %d, was %d", prctl(PR_GET_DUMPABLE), dumpable);
  rt::Report main_report;
  compare(main_report, "C", before);
  if (main_report.state == 2) v.add("%s", main_report.why);
  rt::store_wake(g_ct_go, 1);
  v.take(g_ct.report, "CT", 30);
  if (v.count) {
    snprintf(g_shared->why, sizeof(g_shared->why), "%s", v.problems.c_str());
    rt::store_wake(g_shared->done, 2, true);
    _exit(1);
  }
  rt::store_wake(g_shared->done, 1, true);
  _exit(0);
}

void write_loginuid(uint32_t uid) {
  int fd = open("/proc/self/loginuid", O_WRONLY);
  RT_CHECK(fd >= 0, "open /proc/self/loginuid: %s", strerror(errno));
  std::string text = std::to_string(uid);
  RT_CHECK(write(fd, text.data(), text.size()) == ssize_t(text.size()), "writing loginuid %u: %s", uid,
           strerror(errno));
  close(fd);
}

uint32_t loginuid_of(const std::string& path) { return uint32_t(strtoul(rt::read_text(path).c_str(), nullptr, 10)); }

}  // namespace

int main() {
  RT_CHECK(geteuid() == 0, "prctl must run as root");
  rt::block_term();
  write_loginuid(kLoginuid);
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(mem != MAP_FAILED, "mmap: %s", strerror(errno));
  g_shared = new (mem) Shared;
  pid_t c = fork();
  RT_CHECK(c >= 0, "fork: %s", strerror(errno));
  if (c == 0) run_c();

  if (prctl(PR_SET_THP_DISABLE, 1, PR_THP_DISABLE_EXCEPT_ADVISED, 0, 0) < 0)
    RT_CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0, "PR_SET_THP_DISABLE: %s", strerror(errno));
  for (int cmd : kMembarrierRegister) RT_CHECK(membarrier(cmd) == 0, "membarrier(%#x): %s", cmd, strerror(errno));
  long registrations = membarrier(kMembarrierGetRegistrations);
  RT_CHECK(registrations > 0, "MEMBARRIER_CMD_GET_REGISTRATIONS: %s", strerror(errno));
  long thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
  RT_CHECK(prctl(PR_SET_TIMERSLACK, 77777) == 0, "PR_SET_TIMERSLACK: %s", strerror(errno));
  RT_CHECK(prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, 0) == 0, "PR_MCE_KILL: %s", strerror(errno));
  ThreadState main_before = read_state();

  RT_CHECK(pthread_create(&g_t1.handle, nullptr, run_t1, nullptr) == 0, "pthread_create");
  RT_CHECK(pthread_create(&g_t2.handle, nullptr, run_t2, nullptr) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, 2, 30), "T1 and T2 did not set up");
  RT_CHECK(!g_t1.error[0] && !g_t2.error[0], "%s%s", g_t1.error, g_t2.error);
  RT_CHECK(g_t1.before.nnp == 1 && g_t1.before.keepcaps == 1 && g_t2.before.securebits == long(kT2Securebits) &&
               g_t1.before.tsc == PR_TSC_SIGSEGV && g_t2.before.mce_kill == PR_MCE_KILL_EARLY &&
               main_before.mce_kill == PR_MCE_KILL_LATE,
           "T1/T2 prctl values did not take");
  RT_CHECK(rt::await_at_least(g_shared->ready, 1, 30, true) || g_shared->done == 2, "C did not set up");
  RT_CHECK(g_shared->done != 2, "%s", g_shared->why);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != thp) v.add("PR_GET_THP_DISABLE %d, was %ld", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0), thp);
  long regs = membarrier(kMembarrierGetRegistrations);
  if (regs != registrations) v.add("membarrier registrations %#lx, were %#lx", regs, registrations);
  for (pid_t tid : rt::task_list()) {
    uint32_t uid = loginuid_of(rt::task_file(tid, "loginuid"));
    if (uid != kLoginuid) v.add("thread %d: loginuid %u, want %u", tid, uid, kLoginuid);
  }
  uint32_t c_uid = loginuid_of("/proc/" + std::to_string(c) + "/loginuid");
  if (c_uid != kLoginuid) v.add("C: loginuid %u, want %u", c_uid, kLoginuid);
  rt::Report main_report;
  compare(main_report, "main", main_before);
  if (main_report.state == 2) v.add("%s", main_report.why);
  rt::store_wake(g_go, 1);
  v.take(g_t1.report, "T1", 30);
  v.take(g_t2.report, "T2", 30);
  for (Slot* s : {&g_t1, &g_t2})
    if (!rt::join_within(s->handle, 30)) v.add("a thread cannot be joined within 30 s");

  kill(c, SIGTERM);
  if (!rt::await_at_least(g_shared->done, 1, 30, true)) v.add("C gave no verdict within 30 s");
  else if (g_shared->done == 2) v.add("%s", g_shared->why);
  int st = -1;
  bool reaped = rt::poll_until([&] { return waitpid(c, &st, WNOHANG) == c; }, 30);
  if (!reaped) v.add("C was not reaped within 30 s");
  v.finish();
}
