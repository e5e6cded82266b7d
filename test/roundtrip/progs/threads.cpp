// Sixteen threads across the round trip, each with state of its own that
// restore must give back to that thread and to no other:
//   - its tid (gettid(), the raw syscall, and glibc's cached copy, which
//     pthread_kill uses: the SIGUSR1 handler records where it ran);
//   - a thread_local value (its TLS base);
//   - its signal mask: SIGTERM and SIGRTMIN+i (pthread_sigmask and SigBlk);
//   - its name (pthread_setname_np, /proc/self/task/TID/comm);
//   - a counter it goes on counting, with a checksum kept in registers.
// After SIGTERM the main thread checks the task list is the same tids, waits
// (bounded) until every counter moved again, pthread_kills every thread,
// then lets them check themselves and joins them (bounded).
#include "mtlib.h"

namespace {

constexpr int kThreads = 16;

struct Slot {
  int index = 0;
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  std::atomic<uint64_t> count{0};   // published after each burst
  std::atomic<pid_t> usr1_tid{0};   // the tid the SIGUSR1 handler ran in
  rt::Report report;
};

Slot g_slots[kThreads];
std::atomic<int> g_set_up{0};
std::atomic<int> g_stop{0};
thread_local uint64_t t_value = 0;
thread_local int t_index = -1;

uint64_t value_for(int i) { return 0x7ead000000000000ull ^ (uint64_t(i + 1) * 0x9e3779b97f4a7c15ull); }
int own_signal(int i) { return SIGRTMIN + i; }
uint64_t expected_mask(int i) { return rt::bit(SIGTERM) | rt::bit(own_signal(i)); }
// The main thread blocks one more, so that no thread's mask is the main's.
uint64_t main_mask() { return rt::bit(SIGTERM) | rt::bit(SIGRTMIN + kThreads); }

void thread_name(int i, char* name, size_t n) { snprintf(name, n, "rt-thread-%02d", i); }

void on_usr1(int) {
  if (t_index >= 0) g_slots[t_index].usr1_tid.store(pid_t(syscall(SYS_gettid)));
}

uint64_t checksum_to(uint64_t count) {
  uint64_t sum = 0;
  for (uint64_t i = 1; i <= count; i++) sum = sum * 31 + i;
  return sum;
}

void check_self(Slot& s, pid_t tid, uint64_t count, uint64_t checksum) {
  rt::Report& r = s.report;
  int i = s.index;
  RT_TCHECK(r, gettid() == tid, "gettid() is %d, was %d", gettid(), tid);
  RT_TCHECK(r, syscall(SYS_gettid) == tid, "SYS_gettid is %ld, was %d", syscall(SYS_gettid), tid);
  RT_TCHECK(r, t_index == i, "thread_local index is %d", t_index);
  RT_TCHECK(r, t_value == value_for(i), "thread_local value %#llx, want %#llx", (unsigned long long)t_value,
            (unsigned long long)value_for(i));
  uint64_t mask = rt::thread_mask();
  RT_TCHECK(r, mask == expected_mask(i), "pthread_sigmask %#llx, want %#llx", (unsigned long long)mask,
            (unsigned long long)expected_mask(i));
  uint64_t blk = rt::status_hex(tid, "SigBlk");
  RT_TCHECK(r, blk == expected_mask(i), "SigBlk %#llx, want %#llx", (unsigned long long)blk,
            (unsigned long long)expected_mask(i));
  char name[16], got[16] = {};
  thread_name(i, name, sizeof(name));
  RT_TCHECK(r, pthread_getname_np(pthread_self(), got, sizeof(got)) == 0 && strcmp(got, name) == 0,
            "pthread_getname_np '%s', want '%s'", got, name);
  std::string comm = rt::read_text(rt::task_file(tid, "comm"));
  RT_TCHECK(r, comm == std::string(name) + "\n", "comm '%s', want '%s'", comm.c_str(), name);
  RT_TCHECK(r, checksum == checksum_to(count), "checksum %#llx after %llu counts, want %#llx",
            (unsigned long long)checksum, (unsigned long long)count, (unsigned long long)checksum_to(count));
  r.pass();
}

void* run(void* arg) {
  Slot& s = *static_cast<Slot*>(arg);
  t_index = s.index;
  t_value = value_for(s.index);
  pid_t tid = gettid();
  s.tid = tid;
  char name[16];
  thread_name(s.index, name, sizeof(name));
  pthread_setname_np(pthread_self(), name);
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, own_signal(s.index));
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  rt::add_wake(g_set_up, 1);

  // Bursts of counting (count and checksum live in registers), each
  // published, then a 1 ms nap so that 16 threads leave the CPUs to others.
  uint64_t count = 0, checksum = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int k = 0; k < 20000; k++) {
      count++;
      checksum = checksum * 31 + count;
    }
    s.count.store(count, std::memory_order_release);
    timespec nap{0, 1000 * 1000};
    nanosleep(&nap, nullptr);  // EINTR (a dump, SIGUSR1) is fine here
  }
  check_self(s, tid, count, checksum);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();  // inherited by the threads
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGUSR1, &sa, nullptr) == 0, "sigaction");
  pid_t pid = getpid();

  for (int i = 0; i < kThreads; i++) {
    g_slots[i].index = i;
    RT_CHECK(pthread_create(&g_slots[i].handle, nullptr, run, &g_slots[i]) == 0, "pthread_create %d", i);
  }
  RT_CHECK(rt::await_at_least(g_set_up, kThreads, 30), "only %d of %d threads set up", g_set_up.load(), kThreads);
  sigset_t extra;
  sigemptyset(&extra);
  sigaddset(&extra, SIGRTMIN + kThreads);
  RT_CHECK(sigprocmask(SIG_BLOCK, &extra, nullptr) == 0, "sigprocmask");
  std::vector<pid_t> tids = {pid};
  for (Slot& s : g_slots) tids.push_back(s.tid);
  std::sort(tids.begin(), tids.end());
  RT_CHECK(rt::task_list() == tids, "the task list is not the main thread and its %d threads", kThreads);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  RT_CHECK(getpid() == pid && gettid() == pid, "pid %d tid %d, want %d", getpid(), gettid(), pid);
  std::vector<pid_t> now = rt::task_list();
  if (now != tids) v.add("/proc/self/task has %zu tasks, not the %zu tids of before", now.size(), tids.size());
  std::string threads = rt::status_field(pid, "Threads");
  if (threads != std::to_string(kThreads + 1)) v.add("Threads: %s, want %d", threads.c_str(), kThreads + 1);
  if (rt::thread_mask() != main_mask())
    v.add("main thread mask %#llx, want %#llx", (unsigned long long)rt::thread_mask(),
          (unsigned long long)main_mask());
  if (rt::status_hex(pid, "SigBlk") != main_mask()) v.add("main thread SigBlk is not its mask");

  // Every thread counts again.
  uint64_t before[kThreads];
  for (int i = 0; i < kThreads; i++) before[i] = g_slots[i].count.load();
  for (int i = 0; i < kThreads; i++)
    if (!rt::poll_until([&] { return g_slots[i].count.load() > before[i]; }, 30))
      v.add("thread %d (tid %d) did not count on within 30 s", i, g_slots[i].tid.load());

  // pthread_kill reaches each thread by glibc's record of its tid.
  for (int i = 0; i < kThreads; i++) {
    Slot& s = g_slots[i];
    if (pthread_kill(s.handle, SIGUSR1) != 0) {
      v.add("pthread_kill of thread %d failed", i);
      continue;
    }
    if (!rt::poll_until([&] { return s.usr1_tid.load() != 0; }, 10))
      v.add("thread %d: SIGUSR1 from pthread_kill not handled within 10 s", i);
    else if (s.usr1_tid.load() != s.tid.load())
      v.add("thread %d: pthread_kill's SIGUSR1 ran in tid %d, want %d", i, s.usr1_tid.load(), s.tid.load());
  }

  g_stop.store(1);
  for (int i = 0; i < kThreads; i++) {
    char who[32];
    snprintf(who, sizeof(who), "thread %d", i);
    v.take(g_slots[i].report, who, 30);
  }
  for (int i = 0; i < kThreads; i++)
    if (!rt::join_within(g_slots[i].handle, 30)) v.add("thread %d cannot be joined within 30 s", i);
  v.finish();
}
