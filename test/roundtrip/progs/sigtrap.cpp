// A program's own SIGTRAP handler across the round trip.  ckpt's restorer
// stops every restored thread with an int3, and a trap that finds SIGTRAP
// blocked makes the kernel reset its action to SIG_DFL: the program's next
// trap would kill it.  So:
//
//   - a SIGTRAP handler (SA_SIGINFO), used after the restore: int3 and
//     raise() in the main thread, int3 in a worker thread;
//   - SIGTRAP blocked in the worker until then (its mask must come back),
//     unblocked in the main thread;
//   - no SIGTRAP may be pending afterwards (ckpt's traps are its own).
//
// A SIGTRAP pending or ignored at dump: sigtrap_pending, sigtrap_ignored.
#include "mtlib.h"

#include <pthread.h>

namespace {

volatile sig_atomic_t g_traps = 0;
volatile sig_atomic_t g_last_code = 0;

void on_trap(int, siginfo_t* si, void*) {
  g_traps = g_traps + 1;
  g_last_code = si->si_code;
}

sigset_t trap_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTRAP);
  return set;
}

bool trap_pending() {
  sigset_t set;
  sigpending(&set);
  return sigismember(&set, SIGTRAP);
}

void expect_handler(const char* when) {
  struct sigaction now {};
  RT_CHECK(sigaction(SIGTRAP, nullptr, &now) == 0, "query SIGTRAP");
  RT_CHECK(now.sa_sigaction == on_trap && (now.sa_flags & SA_SIGINFO),
           "%s: SIGTRAP's handler is lost (%p, flags %#x)", when, (void*)now.sa_sigaction, now.sa_flags);
}

std::atomic<int> g_go{0}, g_done{0};
char g_error[256];

void* worker(void*) {
  sigset_t trap = trap_set();
  pthread_sigmask(SIG_BLOCK, &trap, nullptr);
  rt::store_wake(g_done, 1);
  // Blocked without a timeout (the main thread's waits are bounded).
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  if (!sigismember(&mask, SIGTRAP)) {
    snprintf(g_error, sizeof(g_error), "the worker's SIGTRAP is no longer blocked");
  } else {
    int before = g_traps;
    pthread_sigmask(SIG_UNBLOCK, &trap, nullptr);
    __asm__ volatile("int3");
    if (g_traps != before + 1)
      snprintf(g_error, sizeof(g_error), "the worker's int3 ran the handler %d times", g_traps - before);
  }
  rt::store_wake(g_done, 2);
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGTRAP, &sa, nullptr) == 0, "sigaction SIGTRAP");
  rt::block_term();
  pthread_t th;
  RT_CHECK(pthread_create(&th, nullptr, worker, nullptr) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_done, 1, 30), "the worker did not start");

  rt::ready();
  rt::wait_term();

  expect_handler("after the restore");
  RT_CHECK(!trap_pending(), "a SIGTRAP is pending that the program never sent");
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  RT_CHECK(!sigismember(&mask, SIGTRAP), "the main thread's SIGTRAP is blocked");
  __asm__ volatile("int3");
  RT_CHECK(g_traps == 1 && g_last_code == SI_KERNEL, "int3: the handler ran %d times (si_code %d)", int(g_traps),
           int(g_last_code));
  raise(SIGTRAP);
  RT_CHECK(g_traps == 2 && g_last_code == SI_TKILL, "raise: the handler ran %d times (si_code %d)", int(g_traps),
           int(g_last_code));
  rt::store_wake(g_go, 1);
  RT_CHECK(rt::await_at_least(g_done, 2, 30), "the worker did not finish");
  RT_CHECK(g_error[0] == 0, "%s", g_error);
  pthread_join(th, nullptr);
  expect_handler("after the traps");
  rt::pass();
}
