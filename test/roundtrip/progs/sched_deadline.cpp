// A thread under SCHED_DEADLINE: ckpt does not restore the policy, so the
// dump must be refused by name and the program run on with its thread
// still under SCHED_DEADLINE (a 1 ms budget every 100 ms, asleep).
#include "ckpt/kernel_types.h"
#include "mtlib.h"

namespace {

using SchedAttr = ckpt_k_sched_attr;
constexpr uint32_t kSchedDeadline = 6;

std::atomic<int> g_set_up{0}, g_go{0};
std::atomic<pid_t> g_tid{0};
char g_error[128];

void* run(void*) {
  g_tid = gettid();
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = kSchedDeadline;
  a.sched_runtime = 1000 * 1000;
  a.sched_deadline = a.sched_period = 100 * 1000 * 1000;
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
  RT_CHECK(a.sched_policy == kSchedDeadline, "the thread's policy is %u, want SCHED_DEADLINE", a.sched_policy);
  rt::store_wake(g_go, 1);
  RT_CHECK(rt::join_within(t, 30), "the thread cannot be joined");
  rt::pass();
}
