// Process state that only /proc shows, set in a heap, for the driver's /proc
// snapshot to compare: the program's own check looks at its memory only, on
// purpose.  A field the dump forgets fails the round trip through the
// snapshot diff, not through this program.
//
//   main thread   nice 5, timer slack 123456 ns, loginuid 1000,
//                 ADDR_NO_RANDOMIZE personality, CPU affinity {0}
//   process       umask 027, RLIMIT_CORE 1M/2M, RLIMIT_NOFILE 1000,
//                 oom_score_adj 123, coredump_filter 0x23, autogroup nice 3,
//                 THP disabled (PR_SET_THP_DISABLE), KSM merge-any
//   memory        areas with MADV_DONTFORK, DONTDUMP, WIPEONFORK, HUGEPAGE,
//                 NOHUGEPAGE, one mlock'ed, one bound to node 0 (mbind),
//                 one MAP_NORESERVE, one made
//                 read-only after it was written (PROT_NONE ones are the
//                 memory areas test's: their dump fails today)
//   threads       SCHED_IDLE with SCHED_RESET_ON_FORK, its own name,
//                 affinity {1} if there is a CPU 1; SCHED_FIFO priority 3
//
// Whatever a call refuses here (no KSM, no CPU 1...) is left as it is: the
// snapshot compares what there is.
#include "mtlib.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kAreaPages = 4;

void write_proc(const char* path, const char* value) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return;
  (void)!write(fd, value, strlen(value));
  close(fd);
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);  // refused if the CPU is not ours
}

// One area of its own (a guard page on each side keeps the kernel from
// merging it with a neighbour), written with a pattern.
char* area(int advice, int prot_after, int extra_flags, uint64_t seed) {
  size_t len = kAreaPages * kPage;
  char* guard = static_cast<char*>(
      mmap(nullptr, len + 2 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  RT_CHECK(guard != MAP_FAILED, "mmap guard");
  char* p = static_cast<char*>(
      mmap(guard + kPage, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | extra_flags, -1, 0));
  RT_CHECK(p != MAP_FAILED, "mmap area");
  rt::fill_pattern(p, len, seed);
  if (advice >= 0) madvise(p, len, advice);
  if (prot_after != (PROT_READ | PROT_WRITE)) RT_CHECK(mprotect(p, len, prot_after) == 0, "mprotect");
  return p;
}

std::atomic<int> g_threads_ready{0};
std::atomic<int> g_stop{0};

// Sleeps until the end: a real-time thread that sleeps takes no CPU.
void* sleeper(void*) {
  rt::add_wake(g_threads_ready, 1);
  while (!g_stop.load()) rt::futex_wait(g_stop, 0, nullptr);
  return nullptr;
}

// Ends as SCHED_OTHER: the kernel reports a process reaped before its last
// thread has freed its tid, and a SCHED_IDLE thread starved on a busy
// machine holds it long enough for the next restore to find it taken.
void* idle_thread(void* arg) {
  sched_param none{};
  sched_setscheduler(0, SCHED_IDLE | SCHED_RESET_ON_FORK, &none);
  prctl(PR_SET_NAME, "rt-idle");
  pin_to(1);
  sleeper(arg);
  sched_setscheduler(0, SCHED_OTHER, &none);
  return nullptr;
}

void* fifo_thread(void* arg) {
  sched_param prio{};
  prio.sched_priority = 3;
  sched_setscheduler(0, SCHED_FIFO, &prio);  // refused without real-time budget: then not
  prctl(PR_SET_NAME, "rt-fifo");
  return sleeper(arg);
}

}  // namespace

int main() {
  setpriority(PRIO_PROCESS, 0, 5);
  prctl(PR_SET_TIMERSLACK, 123456);
  write_proc("/proc/self/loginuid", "1000");
  personality(personality(0xffffffff) | ADDR_NO_RANDOMIZE);
  pin_to(0);

  umask(027);
  rlimit core{1 << 20, 2 << 20};
  setrlimit(RLIMIT_CORE, &core);
  rlimit nofile{1000, 0};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = 1000;
  setrlimit(RLIMIT_NOFILE, &nofile);
  write_proc("/proc/self/oom_score_adj", "123");
  write_proc("/proc/self/coredump_filter", "0x23");
  write_proc("/proc/self/autogroup", "3");
  prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
  prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);

  struct Area {
    char* p;
    uint64_t seed;
  };
  Area areas[] = {
      {area(MADV_DONTFORK, PROT_READ | PROT_WRITE, 0, 1), 1},
      {area(MADV_DONTDUMP, PROT_READ | PROT_WRITE, 0, 2), 2},
      {area(MADV_WIPEONFORK, PROT_READ | PROT_WRITE, 0, 3), 3},
      {area(MADV_HUGEPAGE, PROT_READ | PROT_WRITE, 0, 4), 4},
      {area(MADV_NOHUGEPAGE, PROT_READ | PROT_WRITE, 0, 5), 5},
      {area(-1, PROT_READ | PROT_WRITE, MAP_NORESERVE, 6), 6},
      {area(-1, PROT_READ, 0, 7), 7},
  };
  char* locked = area(-1, PROT_READ | PROT_WRITE, 0, 9);
  mlock(locked, kAreaPages * kPage);
  char* bound = area(-1, PROT_READ | PROT_WRITE, 0, 10);
  unsigned long node0 = 1;
  syscall(SYS_mbind, bound, kAreaPages * kPage, 2 /* MPOL_BIND */, &node0, 8 * sizeof(node0), 0);

  rt::block_term();  // before the threads, which inherit the mask
  pthread_t idle, fifo;
  RT_CHECK(pthread_create(&idle, nullptr, idle_thread, nullptr) == 0, "pthread_create");
  RT_CHECK(pthread_create(&fifo, nullptr, fifo_thread, nullptr) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_threads_ready, 2, 30), "the threads did not start");

  rt::ready();
  rt::wait_term();

  for (const Area& a : areas)
    RT_CHECK(rt::pattern_mismatch(a.p, kAreaPages * kPage, a.seed) < 0, "area %llu lost its content",
             (unsigned long long)a.seed);
  RT_CHECK(rt::pattern_mismatch(locked, kAreaPages * kPage, 9) < 0, "the locked area lost its content");
  RT_CHECK(rt::pattern_mismatch(bound, kAreaPages * kPage, 10) < 0, "the bound area lost its content");
  rt::store_wake(g_stop, 1);
  RT_CHECK(rt::join_within(idle, 30) && rt::join_within(fifo, 30), "the threads did not end");
  rt::pass();
}
