// A process whose main thread has exited (pthread_exit) while three others
// run on: a busy worker checking a running checksum, a worker looping on
// short nanosleeps, and the control thread blocked in read(2) on the
// control pipe.  Each blocks its own signal, which the driver compares with
// what compel reports per thread.  Once the main thread shows as a zombie,
// the control thread says
//   ready PROGRESS PAGE TID:SIG TID:SIG TID:SIG
// (PROGRESS: the busy worker's counter, PAGE: a page filled with a known
// pattern, byte i = i * 7 + 3), then waits for "stop"; the process exits 0
// if every thread's self-check passed.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "target.h"

namespace {

constexpr int kThreads = 3;  // busy, sleeper, control
std::atomic<bool> stop{false};
std::atomic<int> started{0};
volatile uint64_t progress;
alignas(4096) uint8_t page[4096];
pid_t tids[kThreads];
pthread_t threads[kThreads];
char errors[kThreads][256];
pid_t leader;

int sig_of(int i) { return SIGRTMIN + 1 + i; }

void setup(int i) {
  tids[i] = static_cast<pid_t>(syscall(SYS_gettid));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig_of(i));
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  started++;
}

bool mask_kept(int i) {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  for (int j = 0; j < kThreads; j++)
    if (sigismember(&now, sig_of(j)) != (j == i)) return false;
  return true;
}

void* busy(void*) {
  setup(0);
  uint64_t a = 5, b = 5;
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
      snprintf(errors[0], sizeof(errors[0]), "checksum diverged at iteration %llu", (unsigned long long)i);
      return nullptr;
    }
    if ((i & 0xffff) == 0) {
      x = y = 1.0;
      progress = i;
    }
  }
  if (!mask_kept(0)) snprintf(errors[0], sizeof(errors[0]), "signal mask changed");
  return nullptr;
}

void* sleeper(void*) {
  setup(1);
  while (!stop.load()) {
    struct timespec t0, t1, d = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (nanosleep(&d, nullptr) != 0) {
      snprintf(errors[1], sizeof(errors[1]), "nanosleep failed: %s", strerror(errno));
      return nullptr;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    if (ns < 1000000) {
      snprintf(errors[1], sizeof(errors[1]), "nanosleep(1 ms) took %ld ns", ns);
      return nullptr;
    }
  }
  if (!mask_kept(1)) snprintf(errors[1], sizeof(errors[1]), "signal mask changed");
  return nullptr;
}

char leader_state() {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", leader);
  FILE* f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* close = strrchr(buf, ')');
  return close && close[1] == ' ' ? close[2] : '?';
}

void* control(void*) {
  setup(2);
  while (started.load() < kThreads) sched_yield();
  // The main thread is gone once it shows as a zombie (bounded: 5 s).
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (leader_state() != 'Z') {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > 5) target::fail("the main thread does not show as a zombie (%c)", leader_state());
    sched_yield();
  }
  std::string line = "ready " + std::to_string(reinterpret_cast<uintptr_t>(&progress)) + " " +
                     std::to_string(reinterpret_cast<uintptr_t>(page));
  for (int i = 0; i < kThreads; i++) line += " " + std::to_string(tids[i]) + ":" + std::to_string(sig_of(i));
  target::say("%s", line.c_str());
  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("control thread read \"%s\"", cmd.c_str());
  stop = true;
  bool ok = true;
  for (int i = 0; i < kThreads - 1; i++) pthread_join(threads[i], nullptr);
  if (!mask_kept(2)) snprintf(errors[2], sizeof(errors[2]), "signal mask changed");
  for (int i = 0; i < kThreads; i++) {
    if (errors[i][0]) {
      fprintf(stderr, "FAIL: thread %d (tid %d): %s\n", i, tids[i], errors[i]);
      ok = false;
    }
  }
  exit(ok ? 0 : 1);  // the whole process, from a thread
}

}  // namespace

int main() {
  leader = getpid();
  for (size_t i = 0; i < sizeof(page); i++) page[i] = static_cast<uint8_t>(i * 7 + 3);
  void* (*fns[kThreads])(void*) = {busy, sleeper, control};
  for (int i = 0; i < kThreads; i++) pthread_create(&threads[i], nullptr, fns[i], nullptr);
  pthread_exit(nullptr);
}
