// The target of the fault-injection test (fault_injection.sh): a process
// with a lot of memory that keeps making progress on its own, and says so
// where the test can read it without touching the process.
//
//   CKPT_TEST_HEARTBEAT=FILE  (required) slot i of FILE (8 bytes at 8*i) is
//                             counter i, rewritten (pwrite) after each burst
//   CKPT_TEST_THREADS=N       N counting threads, each with a signal of its
//                             own blocked, the main thread waiting for
//                             SIGTERM in sigtimedwait (default 0: the main
//                             thread counts itself, SIGTERM handled)
//   CKPT_TEST_MIB=M           M MiB of anonymous memory, every page written
//                             (default 200)
//
// After SIGTERM: every counter still counts (bounded wait), each thread's
// count agrees with the checksum it kept in registers, its mask is its own,
// and every page of the memory still holds its pattern.  Then PASS.
#include "mtlib.h"

#include <fcntl.h>
#include <sys/mman.h>

namespace {

constexpr size_t kPage = 4096;
constexpr int kMaxThreads = 16;

int g_heartbeat = -1;
uint64_t* g_memory = nullptr;
size_t g_memory_words = 0;

struct Counter {
  int index = 0;
  pthread_t handle{};
  std::atomic<uint64_t> count{0};
  std::atomic<int> started{0};
  rt::Report report;
};

Counter g_counters[kMaxThreads + 1];
std::atomic<int> g_stop{0};

int env_int(const char* name, int fallback) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}

uint64_t pattern(size_t word) { return 0x6ea7b0a7ull ^ (uint64_t(word) * 0x9e3779b97f4a7c15ull); }
// Eight words a page: every page is written (the dump stores them all).
constexpr size_t kWordsChecked = 8;

void fill_memory() {
  for (size_t w = 0; w < g_memory_words; w += kPage / 8)
    for (size_t k = 0; k < kWordsChecked; k++) g_memory[w + k * 64] = pattern(w + k * 64);
}

void check_memory(rt::Verdict& v) {
  for (size_t w = 0; w < g_memory_words; w += kPage / 8)
    for (size_t k = 0; k < kWordsChecked; k++)
      if (g_memory[w + k * 64] != pattern(w + k * 64)) {
        v.add("memory word %zu is %#llx, want %#llx", w + k * 64, (unsigned long long)g_memory[w + k * 64],
              (unsigned long long)pattern(w + k * 64));
        return;
      }
}

uint64_t checksum_to(uint64_t count) {
  uint64_t sum = 0;
  for (uint64_t i = 1; i <= count; i++) sum = sum * 31 + i;
  return sum;
}

// A burst of counting (count and checksum in registers), published in the
// heartbeat file and to the main thread, then a 2 ms nap.
void count_burst(Counter& c, uint64_t& count, uint64_t& checksum) {
  for (int k = 0; k < 2000; k++) {
    count++;
    checksum = checksum * 31 + count;
  }
  c.count.store(count, std::memory_order_release);
  if (pwrite(g_heartbeat, &count, sizeof(count), off_t(c.index) * 8) != sizeof(count))
    rt::fail("counter %d: cannot write the heartbeat: %s", c.index, strerror(errno));
  timespec nap{0, 2 * 1000 * 1000};
  nanosleep(&nap, nullptr);  // EINTR (a dump) is fine here
}

int own_signal(int i) { return SIGRTMIN + i; }

void check_thread(Counter& c, uint64_t count, uint64_t checksum) {
  rt::Report& r = c.report;
  uint64_t want_mask = rt::bit(SIGTERM) | rt::bit(own_signal(c.index));
  RT_TCHECK(r, rt::thread_mask() == want_mask, "mask %#llx, want %#llx", (unsigned long long)rt::thread_mask(),
            (unsigned long long)want_mask);
  RT_TCHECK(r, checksum == checksum_to(count), "checksum %#llx after %llu counts", (unsigned long long)checksum,
            (unsigned long long)count);
  r.pass();
}

void* run_thread(void* arg) {
  Counter& c = *static_cast<Counter*>(arg);
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, own_signal(c.index));
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  rt::store_wake(c.started, 1);
  uint64_t count = 0, checksum = 0;
  while (!g_stop.load(std::memory_order_relaxed)) count_burst(c, count, checksum);
  check_thread(c, count, checksum);
  return nullptr;
}

// Every counter moves again after SIGTERM (the test saw them move after
// each kill; this is the program's own word on it).
void check_counting(rt::Verdict& v, int n) {
  for (int i = 0; i < n; i++) {
    uint64_t before = g_counters[i].count.load();
    if (!rt::poll_until([&] { return g_counters[i].count.load() > before; }, 30))
      v.add("counter %d did not count on within 30 s", i);
  }
}

int run_threads(int n) {
  rt::block_term();  // inherited by the threads
  for (int i = 0; i < n; i++) {
    g_counters[i].index = i;
    RT_CHECK(pthread_create(&g_counters[i].handle, nullptr, run_thread, &g_counters[i]) == 0, "pthread_create %d",
             i);
  }
  for (int i = 0; i < n; i++)
    RT_CHECK(rt::await_at_least(g_counters[i].started, 1, 30), "thread %d did not start within 30 s", i);
  rt::ready();
  rt::wait_term();
  rt::Verdict v;
  check_counting(v, n);
  g_stop.store(1);
  for (int i = 0; i < n; i++) {
    char who[32];
    snprintf(who, sizeof(who), "thread %d", i);
    v.take(g_counters[i].report, who, 30);
  }
  for (int i = 0; i < n; i++)
    if (!rt::join_within(g_counters[i].handle, 30)) v.add("thread %d cannot be joined within 30 s", i);
  check_memory(v);
  v.finish();
}

int run_alone() {
  rt::install_term_flag();
  Counter& c = g_counters[0];
  uint64_t count = 0, checksum = 0;
  count_burst(c, count, checksum);
  rt::ready();
  double deadline = rt::now_seconds() + rt::kWaitLimitSeconds;
  while (!rt::g_term) {
    count_burst(c, count, checksum);
    if (rt::now_seconds() > deadline) rt::fail("no SIGTERM within %d s", rt::kWaitLimitSeconds);
  }
  rt::Verdict v;
  if (checksum != checksum_to(count)) v.add("checksum %#llx after %llu counts", (unsigned long long)checksum,
                                            (unsigned long long)count);
  check_memory(v);
  v.finish();
}

}  // namespace

int main() {
  const char* heartbeat = getenv("CKPT_TEST_HEARTBEAT");
  RT_CHECK(heartbeat && *heartbeat, "CKPT_TEST_HEARTBEAT is not set");
  int threads = env_int("CKPT_TEST_THREADS", 0);
  RT_CHECK(threads >= 0 && threads <= kMaxThreads, "CKPT_TEST_THREADS=%d: 0 to %d", threads, kMaxThreads);
  size_t mib = size_t(env_int("CKPT_TEST_MIB", 200));
  g_heartbeat = open(heartbeat, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  RT_CHECK(g_heartbeat >= 0, "cannot open %s: %s", heartbeat, strerror(errno));
  size_t bytes = mib << 20;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(p != MAP_FAILED, "mmap of %zu MiB: %s", mib, strerror(errno));
  g_memory = static_cast<uint64_t*>(p);
  g_memory_words = bytes / 8;
  fill_memory();
  return threads ? run_threads(threads) : run_alone();
}
