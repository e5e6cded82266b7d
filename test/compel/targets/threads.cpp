// Eight threads in different states: the main thread blocked in read(2),
// busy workers checking a running checksum, and workers looping on short
// nanosleeps.  Each worker blocks its own signal and has its own alternate
// stack, which the driver compares with what compel reports per thread,
// and which each worker checks again at the end.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "target.h"

constexpr int kWorkers = 7;
std::atomic<bool> stop{false};
std::atomic<int> started{0};

struct Worker {
  pthread_t thread;
  int index;
  pid_t tid;
  int sig;
  void* altstack;
  size_t altsize;
  bool ok = true;
  char error[256] = {};
};
Worker workers[kWorkers];

static void busy(Worker& w) {
  uint64_t a = 7, b = 7;
  double x = 1.0, y = 1.0;
  for (uint64_t i = 1; !stop.load(std::memory_order_relaxed); i++) {
    a = a * 6364136223846793005ULL + 1442695040888963407ULL;
    b = b * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(a));
    asm volatile("" : "+r"(b));
    x = x * 1.0000001 + 0.25;
    y = y * 1.0000001 + 0.25;
    asm volatile("" : "+x"(x));
    asm volatile("" : "+x"(y));
    if (a != b || x != y) {
      snprintf(w.error, sizeof(w.error), "checksum diverged at iteration %llu", (unsigned long long)i);
      w.ok = false;
      return;
    }
    if ((i & 0xffff) == 0) x = y = 1.0;
  }
}

static void sleeper(Worker& w) {
  while (!stop.load()) {
    struct timespec t0, t1, d = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (nanosleep(&d, nullptr) != 0) {
      snprintf(w.error, sizeof(w.error), "nanosleep failed: %s", strerror(errno));
      w.ok = false;
      return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    if (ns < 1000000) {
      snprintf(w.error, sizeof(w.error), "nanosleep(1 ms) took %ld ns", ns);
      w.ok = false;
      return;
    }
  }
}

static void* run(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  w.tid = static_cast<pid_t>(syscall(SYS_gettid));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, w.sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  stack_t ss = {w.altstack, 0, w.altsize};
  sigaltstack(&ss, nullptr);
  started++;
  if (w.index % 2 == 0)
    busy(w);
  else
    sleeper(w);
  // compel must have left the thread's mask and alternate stack alone.
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  if (w.ok && (!sigismember(&now, w.sig) || sigismember(&now, SIGRTMIN + 20))) {
    snprintf(w.error, sizeof(w.error), "signal mask changed");
    w.ok = false;
  }
  stack_t cur;
  sigaltstack(nullptr, &cur);
  if (w.ok && (cur.ss_sp != w.altstack || cur.ss_size != w.altsize)) {
    snprintf(w.error, sizeof(w.error), "alternate stack changed");
    w.ok = false;
  }
  return nullptr;
}

int main() {
  for (int i = 0; i < kWorkers; i++) {
    Worker& w = workers[i];
    w.index = i;
    w.sig = SIGRTMIN + 1 + i;
    w.altsize = 65536 + 4096 * static_cast<size_t>(i);
    w.altstack = malloc(w.altsize);
    pthread_create(&w.thread, nullptr, run, &w);
  }
  while (started.load() < kWorkers) sched_yield();
  std::string line = "ready";
  for (Worker& w : workers)
    line += " " + std::to_string(w.tid) + ":" + std::to_string(w.sig) + ":" +
            std::to_string(reinterpret_cast<uintptr_t>(w.altstack)) + ":" + std::to_string(w.altsize);
  target::say("%s", line.c_str());
  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("main thread read \"%s\"", cmd.c_str());
  stop = true;
  bool ok = true;
  for (Worker& w : workers) {
    pthread_join(w.thread, nullptr);
    if (!w.ok) {
      fprintf(stderr, "FAIL: worker %d (tid %d): %s\n", w.index, w.tid, w.error);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
