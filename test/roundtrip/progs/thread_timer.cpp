// POSIX timers aimed at one thread (SIGEV_THREAD_ID) across the round trip:
//   X  created by thread T for itself,
//   Y  created by the main thread for thread U,
// both CLOCK_MONOTONIC, periodic (50 ms), signalling SIGRTMIN+5 with values
// of their own.  No thread blocks SIGRTMIN+5, so a timer restored as
// process-directed, or aimed at another thread, would have its ticks run in
// the main thread (the kernel's first choice) or in V, a bystander: the
// handler counts each tick by timer and by the thread it ran in.  After
// SIGTERM both timers exist with their interval, /proc/self/timers says
// whom they notify, and each ticks at least 5 more times, always in its own
// thread and never anywhere else.
#include "mtlib.h"

namespace {

enum { kMain, T, U, V, kWho };
const char* const kNames[kWho] = {"main", "T", "U", "V"};
enum { X, Y, kTimers };
const char* const kTimerNames[kTimers] = {"X", "Y"};
constexpr int kValue[kTimers] = {0x7a, 0x7b};
constexpr int kTarget[kTimers] = {T, U};
constexpr long kPeriodNs = 50 * 1000 * 1000;

int tick_signal() { return SIGRTMIN + 5; }

struct Slot {
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
};
Slot g_slots[kWho];
thread_local int t_who = -1;
std::atomic<int> g_id[kTimers] = {-1, -1};
std::atomic<int> g_ticks[kWho][kTimers] = {};
std::atomic<int> g_bad{0};  // ticks with a wrong code, timer id or value
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};

void on_tick(int, siginfo_t* si, void*) {
  int timer = si->si_timerid == g_id[X].load() ? X : si->si_timerid == g_id[Y].load() ? Y : -1;
  if (si->si_code != SI_TIMER || timer < 0 || si->si_value.sival_int != kValue[timer] || t_who < 0) {
    g_bad++;
    return;
  }
  g_ticks[t_who][timer]++;
}

// A timer for thread `target` (raw, for the kernel's id).
int create_for(pid_t target, int value) {
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
  ev.sigev_signo = tick_signal();
  ev.sigev_value.sival_int = value;
  ev._sigev_un._tid = target;
  int id = -1;
  RT_CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id) == 0, "timer_create: %s", strerror(errno));
  return id;
}

void arm(int id) {
  itimerspec spec{};
  spec.it_value = {0, kPeriodNs};
  spec.it_interval = {0, kPeriodNs};
  RT_CHECK(syscall(SYS_timer_settime, id, 0, &spec, nullptr) == 0, "timer_settime: %s", strerror(errno));
}

void* run(void* arg) {
  int who = int(reinterpret_cast<intptr_t>(arg));
  t_who = who;
  g_slots[who].tid = gettid();
  if (who == T) {
    g_id[X] = create_for(gettid(), kValue[X]);  // the id is known before the first tick
    arm(g_id[X]);
  }
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);  // ticks interrupt (SA_RESTART)
  return nullptr;
}

// /proc/self/timers has "ID: n", "signal: s/...", "notify: signal/tid.N",
// "ClockID: c" for each timer.
std::string proc_timer(int id) {
  std::string all = "\n" + rt::read_text("/proc/self/timers");
  size_t p = all.find("\nID: " + std::to_string(id) + "\n");
  if (p == std::string::npos) return "";
  size_t e = all.find("\nID: ", p + 1);
  return all.substr(p + 1, e == std::string::npos ? std::string::npos : e - p);
}

}  // namespace

int main() {
  rt::block_term();
  t_who = kMain;
  g_slots[kMain].tid = gettid();
  struct sigaction sa {};
  sa.sa_sigaction = on_tick;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(tick_signal(), &sa, nullptr) == 0, "sigaction");
  for (int who = T; who < kWho; who++)
    RT_CHECK(pthread_create(&g_slots[who].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(who))) == 0,
             "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, kWho - 1, 30), "threads did not start");
  g_id[Y] = create_for(g_slots[U].tid, kValue[Y]);
  arm(g_id[Y]);
  for (int t = 0; t < kTimers; t++)
    RT_CHECK(rt::poll_until([&] { return g_ticks[kTarget[t]][t].load() >= 3; }, 10), "timer %s does not tick",
             kTimerNames[t]);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  for (int t = 0; t < kTimers; t++) {
    int id = g_id[t];
    itimerspec cur{};
    if (syscall(SYS_timer_gettime, id, &cur) != 0) {
      v.add("timer %s (id %d) is gone: %s", kTimerNames[t], id, strerror(errno));
      continue;
    }
    if (cur.it_interval.tv_sec != 0 || cur.it_interval.tv_nsec != kPeriodNs)
      v.add("timer %s has interval %ld.%09ld", kTimerNames[t], long(cur.it_interval.tv_sec), cur.it_interval.tv_nsec);
    pid_t target = g_slots[kTarget[t]].tid;
    std::string proc = proc_timer(id);
    std::string want = "signal: " + std::to_string(tick_signal()) + "/";
    std::string notify = "notify: signal/tid." + std::to_string(target) + "\n";
    if (proc.find(want) == std::string::npos || proc.find(notify) == std::string::npos ||
        proc.find("ClockID: 1\n") == std::string::npos) {
      std::replace(proc.begin(), proc.end(), '\n', ' ');
      v.add("/proc/self/timers for %s (want tid.%d): %s", kTimerNames[t], target, proc.c_str());
    }
  }
  int before[kTimers];
  for (int t = 0; t < kTimers; t++) before[t] = g_ticks[kTarget[t]][t].load();
  for (int t = 0; t < kTimers; t++)
    if (!rt::poll_until([&] { return g_ticks[kTarget[t]][t].load() >= before[t] + 5; }, 10))
      v.add("timer %s ticked %d times in %s within 10 s, want 5", kTimerNames[t],
            g_ticks[kTarget[t]][t].load() - before[t], kNames[kTarget[t]]);
  for (int t = 0; t < kTimers; t++) syscall(SYS_timer_delete, g_id[t].load());
  for (int who = 0; who < kWho; who++)
    for (int t = 0; t < kTimers; t++)
      if (who != kTarget[t] && g_ticks[who][t].load() != 0)
        v.add("%d ticks of timer %s ran in %s, not %s", g_ticks[who][t].load(), kTimerNames[t], kNames[who],
              kNames[kTarget[t]]);
  if (g_bad.load()) v.add("%d ticks with a wrong si_code, timer id or value", g_bad.load());
  rt::store_wake(g_go, 1);
  for (int who = T; who < kWho; who++)
    if (!rt::join_within(g_slots[who].handle, 30)) v.add("thread %s cannot be joined within 30 s", kNames[who]);
  v.finish();
}
