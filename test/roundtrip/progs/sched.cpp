// Scheduling of each thread across the round trip: every thread its own
// policy, nice value and priority, two with SCHED_RESET_ON_FORK:
//   main         SCHED_OTHER, nice 3
//   batch        SCHED_BATCH, nice 7
//   idle         SCHED_IDLE, nice 4
//   fifo         SCHED_FIFO priority 10, nice -3
//   rr           SCHED_RR priority 20, nice 2, reset on fork
//   other_reset  SCHED_OTHER, nice -5, reset on fork
// Each thread sets its own (nice first, under SCHED_OTHER: the kernel keeps
// it through a real-time policy) and then sleeps on a futex, so that the
// real-time ones take no CPU.  After the restore the main thread reads every
// thread's sched_getattr and getpriority and compares them with what each
// had before the dump.  Must run as root (real-time policies, negative nice).
#include "ckpt/kernel_types.h"
#include "mtlib.h"

#include <sched.h>
#include <sys/resource.h>

namespace {

using SchedAttr = ckpt_k_sched_attr;
constexpr uint64_t kResetOnFork = 1;

struct Want {
  const char* name;
  uint32_t policy;
  int nice;
  uint32_t priority;
  bool reset_on_fork;
};
const Want kWant[] = {
    {"main", SCHED_OTHER, 3, 0, false},     {"batch", SCHED_BATCH, 7, 0, false},
    {"idle", SCHED_IDLE, 4, 0, false},      {"fifo", SCHED_FIFO, -3, 10, false},
    {"rr", SCHED_RR, 2, 20, true},          {"other_reset", SCHED_OTHER, -5, 0, true},
};
constexpr int kCount = sizeof(kWant) / sizeof(kWant[0]);

std::atomic<pid_t> g_tid[kCount];
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};
char g_error[256];

bool get(pid_t tid, SchedAttr& a) {
  a = SchedAttr{};
  return syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) == 0;
}

bool set(uint32_t policy, int nice, uint32_t priority, bool reset) {
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = policy;
  a.sched_nice = nice;
  a.sched_priority = priority;
  a.sched_flags = reset ? kResetOnFork : 0;
  return syscall(SYS_sched_setattr, 0, &a, 0) == 0;
}

// Run by each thread for itself.
bool set_own(const Want& w) {
  if (!set(SCHED_OTHER, w.nice, 0, w.policy == SCHED_OTHER && w.reset_on_fork)) return false;
  return w.policy == SCHED_OTHER || set(w.policy, w.nice, w.priority, w.reset_on_fork);
}

void* run(void* arg) {
  int i = int(reinterpret_cast<intptr_t>(arg));
  g_tid[i] = gettid();
  if (!set_own(kWant[i])) snprintf(g_error, sizeof(g_error), "%s: sched_setattr: %s", kWant[i].name, strerror(errno));
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  return nullptr;
}

void check(rt::Verdict& v, int i, const SchedAttr& before) {
  const Want& w = kWant[i];
  pid_t tid = g_tid[i];
  SchedAttr a;
  if (!get(tid, a)) return v.add("%s: sched_getattr(%d): %s", w.name, tid, strerror(errno));
  if (a.sched_policy != before.sched_policy || a.sched_nice != before.sched_nice || a.sched_priority != before.sched_priority ||
      (a.sched_flags & kResetOnFork) != (before.sched_flags & kResetOnFork))
    v.add("%s (tid %d): policy %u nice %d priority %u flags %#llx, was %u %d %u %#llx", w.name, tid, a.sched_policy, a.sched_nice,
          a.sched_priority, (unsigned long long)a.sched_flags, before.sched_policy, before.sched_nice, before.sched_priority,
          (unsigned long long)before.sched_flags);
  errno = 0;
  int prio = getpriority(PRIO_PROCESS, id_t(tid));
  if (prio != w.nice) v.add("%s: getpriority %d, want %d", w.name, prio, w.nice);
}

}  // namespace

int main() {
  RT_CHECK(geteuid() == 0, "sched must run as root");
  rt::block_term();
  g_tid[0] = gettid();
  RT_CHECK(set_own(kWant[0]), "main: sched_setattr: %s", strerror(errno));
  pthread_t threads[kCount];
  for (int i = 1; i < kCount; i++)
    RT_CHECK(pthread_create(&threads[i], nullptr, run, reinterpret_cast<void*>(intptr_t(i))) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, kCount - 1, 30), "threads did not set their scheduling");
  RT_CHECK(!g_error[0], "%s", g_error);
  SchedAttr before[kCount];
  for (int i = 0; i < kCount; i++) {
    RT_CHECK(get(g_tid[i], before[i]), "sched_getattr: %s", strerror(errno));
    const Want& w = kWant[i];
    // (sched_getattr shows no nice value under a real-time policy;
    // getpriority does, checked after the restore.)
    bool rt_policy = w.policy == SCHED_FIFO || w.policy == SCHED_RR;
    RT_CHECK(before[i].sched_policy == w.policy && (rt_policy || before[i].sched_nice == w.nice) && before[i].sched_priority == w.priority &&
                 bool(before[i].sched_flags & kResetOnFork) == w.reset_on_fork,
             "%s: set to policy %u nice %d priority %u flags %#llx", w.name, before[i].sched_policy, before[i].sched_nice,
             before[i].sched_priority, (unsigned long long)before[i].sched_flags);
  }

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  for (int i = 0; i < kCount; i++) check(v, i, before[i]);
  rt::store_wake(g_go, 1);
  for (int i = 1; i < kCount; i++)
    if (!rt::join_within(threads[i], 30)) v.add("thread %s cannot be joined within 30 s", kWant[i].name);
  v.finish();
}
