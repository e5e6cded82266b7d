// A process that never stops creating and ending threads, so that dumps
// catch threads being born, running and ending.  Four workers each loop:
// spawn a short-lived thread that computes one item of work (item k of
// worker w), join it, fold its result into a checksum, count it, nap 0.5 ms.
// The short-lived thread checks its tid at the end of its work is the one it
// started with.  After SIGTERM every worker must go on (20 more items within
// 30 s); then each checks its checksum is exactly the fold of items 1..count
// (none lost, repeated or wrong) and the main thread joins them.
#include "mtlib.h"

namespace {

constexpr int kWorkers = 4;
constexpr int kMoreAfterRestore = 20;

struct Item {
  int worker;
  uint64_t k;
  uint64_t result = 0;
  pid_t tid_start = 0, tid_end = 0;
};

struct Worker {
  pthread_t handle{};
  std::atomic<uint64_t> count{0};
  rt::Report report{};
};
Worker g_workers[kWorkers];
std::atomic<int> g_stop{0};

uint64_t compute(int worker, uint64_t k) {
  uint64_t x = (uint64_t(worker) << 40) ^ k;
  for (int i = 0; i < 2000; i++) {  // splitmix64, many rounds
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    x ^= z ^ (z >> 31);
  }
  return x;
}

uint64_t fold(uint64_t sum, uint64_t result) { return (sum ^ result) * 0x100000001b3ull; }

void* item_thread(void* arg) {
  Item& it = *static_cast<Item*>(arg);
  it.tid_start = gettid();
  it.result = compute(it.worker, it.k);
  it.tid_end = pid_t(syscall(SYS_gettid));
  return nullptr;
}

void work(int w) {
  Worker& me = g_workers[w];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  uint64_t count = 0, sum = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    Item it{w, count + 1};
    pthread_t t;
    int err = pthread_create(&t, &attr, item_thread, &it);
    RT_TCHECK(me.report, err == 0, "pthread_create of item %llu: %s", (unsigned long long)it.k, strerror(err));
    err = pthread_join(t, nullptr);
    RT_TCHECK(me.report, err == 0, "pthread_join of item %llu: %s", (unsigned long long)it.k, strerror(err));
    RT_TCHECK(me.report, it.tid_start != 0 && it.tid_start == it.tid_end,
              "the thread of item %llu started as tid %d, ended as %d", (unsigned long long)it.k, it.tid_start,
              it.tid_end);
    sum = fold(sum, it.result);
    me.count.store(++count);
    timespec nap{0, 500 * 1000};
    nanosleep(&nap, nullptr);
  }
  uint64_t expect = 0;
  for (uint64_t k = 1; k <= count; k++) expect = fold(expect, compute(w, k));
  RT_TCHECK(me.report, sum == expect, "checksum %#llx after %llu items, want %#llx", (unsigned long long)sum,
            (unsigned long long)count, (unsigned long long)expect);
  me.report.pass();
}

void* run(void* arg) {
  work(int(reinterpret_cast<intptr_t>(arg)));
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  for (int w = 0; w < kWorkers; w++)
    RT_CHECK(pthread_create(&g_workers[w].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(w))) == 0,
             "pthread_create");
  for (int w = 0; w < kWorkers; w++)
    RT_CHECK(rt::poll_until([&] { return g_workers[w].count.load() >= 10; }, 30), "worker %d does not get going", w);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  uint64_t before[kWorkers];
  for (int w = 0; w < kWorkers; w++) before[w] = g_workers[w].count.load();
  for (int w = 0; w < kWorkers; w++)
    if (!rt::poll_until([&] { return g_workers[w].count.load() >= before[w] + kMoreAfterRestore; }, 30))
      v.add("worker %d did %llu items in 30 s, want %d", w,
            (unsigned long long)(g_workers[w].count.load() - before[w]), kMoreAfterRestore);
  g_stop.store(1);
  for (int w = 0; w < kWorkers; w++) {
    char who[32];
    snprintf(who, sizeof(who), "worker %d", w);
    v.take(g_workers[w].report, who, 30);
  }
  for (int w = 0; w < kWorkers; w++)
    if (!rt::join_within(g_workers[w].handle, 30)) v.add("worker %d cannot be joined within 30 s", w);
  printf("items:");
  for (Worker& w : g_workers) printf(" %llu", (unsigned long long)w.count.load());
  printf("\n");
  v.finish();
}
