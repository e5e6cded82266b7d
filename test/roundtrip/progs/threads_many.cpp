// Five hundred threads, every one asleep in FUTEX_WAIT on one word at dump
// time.  After SIGTERM the main thread checks the task list is the same
// 501 tids and every thread is asleep in futex again, changes the word and
// wakes them all: FUTEX_WAKE must find all 500, each wait must return 0
// (no EINTR, no EAGAIN), and each thread checks its tid is the one it had.
// The main thread then joins them all (bounded).
#include "mtlib.h"

namespace {

constexpr int kThreads = 500;

struct Slot {
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  rt::Report report{};
};
Slot g_slots[kThreads];
std::atomic<int> g_started{0};
std::atomic<int> g_word{0};

void wait_and_check(Slot& s) {
  pid_t tid = gettid();
  s.tid = tid;
  rt::add_wake(g_started, 1);
  long r = rt::futex_wait(g_word, 0, nullptr);
  int err = errno;
  RT_TCHECK(s.report, r == 0, "FUTEX_WAIT returned %ld: %s", r, strerror(err));
  RT_TCHECK(s.report, g_word.load() == 1, "FUTEX_WAIT returned 0, the word still 0");
  RT_TCHECK(s.report, gettid() == tid && syscall(SYS_gettid) == tid, "tid %d, was %d", gettid(), tid);
  s.report.pass();
}

void* run(void* arg) {
  wait_and_check(*static_cast<Slot*>(arg));
  return nullptr;
}

// Every thread asleep in futex (bounded); the first that is not, or -1.
int first_not_in_futex(double seconds) {
  double deadline = rt::now_seconds() + seconds;
  for (int i = 0; i < kThreads; i++) {
    double left = deadline - rt::now_seconds();
    if (!rt::await_in_syscall(g_slots[i].tid, SYS_futex, left > 0 ? left : 0)) return i;
  }
  return -1;
}

}  // namespace

int main() {
  rt::block_term();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  for (int i = 0; i < kThreads; i++)
    RT_CHECK(pthread_create(&g_slots[i].handle, &attr, run, &g_slots[i]) == 0, "pthread_create %d: %s", i,
             strerror(errno));
  RT_CHECK(rt::await_at_least(g_started, kThreads, 60), "only %d of %d threads started", g_started.load(), kThreads);
  int lazy = first_not_in_futex(60);
  RT_CHECK(lazy < 0, "thread %d is not asleep in futex", lazy);
  std::vector<pid_t> tids = {getpid()};
  for (Slot& s : g_slots) tids.push_back(s.tid);
  std::sort(tids.begin(), tids.end());
  RT_CHECK(rt::task_list() == tids, "the task list is not the main thread and its %d threads", kThreads);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  std::vector<pid_t> now = rt::task_list();
  if (now != tids) v.add("/proc/self/task has %zu tasks, not the %zu tids of before", now.size(), tids.size());
  int done = 0;
  for (Slot& s : g_slots) done += s.report.state.load() != 0;
  if (done) v.add("%d threads returned from FUTEX_WAIT before the wake", done);
  lazy = first_not_in_futex(60);
  if (lazy >= 0) v.add("thread %d (tid %d) is not asleep in futex", lazy, g_slots[lazy].tid.load());
  g_word.store(1);
  long woken = rt::futex_wake(g_word);
  if (woken != kThreads) v.add("FUTEX_WAKE woke %ld threads, want %d", woken, kThreads);
  double deadline = rt::now_seconds() + 60;  // for all the reports together
  for (int i = 0; i < kThreads; i++) {
    char who[32];
    snprintf(who, sizeof(who), "thread %d", i);
    v.take(g_slots[i].report, who, std::max(0.0, deadline - rt::now_seconds()));
  }
  for (int i = 0; i < kThreads; i++)
    if (!rt::join_within(g_slots[i].handle, 30)) {
      v.add("thread %d cannot be joined within 30 s", i);
      break;
    }
  v.finish();
}
