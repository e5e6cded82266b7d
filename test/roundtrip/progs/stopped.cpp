// A process stopped at the dump (rt_driver's stopped-dump modes stop it
// with SIGSTOP, dump it, and check after the restore that it is stopped,
// untraced, and continues on SIGCONT).  Here: a SIGCONT handler and a
// worker thread.  On SIGTERM the program checks that exactly one SIGCONT
// reached it since it got ready (the driver's, after the restore: ckpt adds
// none and loses none), in the main thread or the worker, and that the
// worker still answers.
#include "mtlib.h"

#include <pthread.h>

namespace {

volatile sig_atomic_t g_conts = 0;
void on_cont(int) { g_conts = g_conts + 1; }

std::atomic<int> g_ping{0}, g_pong{0};

void* worker(void*) {
  // Blocked without a timeout (the main thread's waits are bounded).
  for (int seen = 0;;) {
    while (g_ping.load() == seen) rt::futex_wait(g_ping, seen, nullptr);
    seen = g_ping.load();
    rt::store_wake(g_pong, seen);
  }
  return nullptr;
}

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_cont;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGCONT, &sa, nullptr) == 0, "sigaction SIGCONT");
  rt::block_term();
  pthread_t th;
  RT_CHECK(pthread_create(&th, nullptr, worker, nullptr) == 0, "pthread_create");
  rt::store_wake(g_ping, 1);
  RT_CHECK(rt::await_at_least(g_pong, 1, 30), "the worker does not answer");

  rt::ready();
  rt::wait_term();

  RT_CHECK(g_conts == 1, "SIGCONT's handler ran %d times since the program got ready (want 1)", int(g_conts));
  rt::store_wake(g_ping, 2);
  RT_CHECK(rt::await_at_least(g_pong, 2, 30), "the worker no longer answers");
  rt::pass();
}
