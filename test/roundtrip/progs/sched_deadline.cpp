// A thread under SCHED_DEADLINE: ckpt does not restore the policy, so the
// dump must be refused by name and the program run on with its thread
// still under SCHED_DEADLINE (a 1 ms budget every 100 ms, asleep).
#include "mtlib.h"

namespace {

struct SchedAttr {  // struct sched_attr (SCHED_ATTR_SIZE_VER1)
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
};
constexpr uint32_t kSchedDeadline = 6;

std::atomic<int> g_set_up{0}, g_go{0};
std::atomic<pid_t> g_tid{0};
char g_error[128];

void* run(void*) {
  g_tid = gettid();
  SchedAttr a{};
  a.size = sizeof(a);
  a.policy = kSchedDeadline;
  a.runtime = 1000 * 1000;
  a.deadline = a.period = 100 * 1000 * 1000;
  if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
    snprintf(g_error, sizeof(g_error), "sched_setattr(SCHED_DEADLINE): %s", strerror(errno));
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  pthread_t t;
  RT_CHECK(pthread_create(&t, nullptr, run, nullptr) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, 1, 30), "the thread did not set up");
  RT_CHECK(!g_error[0], "%s", g_error);
  rt::ready();
  rt::wait_term();
  SchedAttr a{};
  RT_CHECK(syscall(SYS_sched_getattr, g_tid.load(), &a, sizeof(a), 0) == 0, "sched_getattr: %s", strerror(errno));
  RT_CHECK(a.policy == kSchedDeadline, "the thread's policy is %u, want SCHED_DEADLINE", a.policy);
  rt::store_wake(g_go, 1);
  RT_CHECK(rt::join_within(t, 30), "the thread cannot be joined");
  rt::pass();
}
