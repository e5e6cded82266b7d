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

rt::Echo g_echo;

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_cont;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGCONT, &sa, nullptr) == 0, "sigaction SIGCONT");
  rt::block_term();
  pthread_t th;
  RT_CHECK(pthread_create(&th, nullptr, rt::Echo::run, &g_echo) == 0, "pthread_create");
  RT_CHECK(g_echo.answers(1, 30), "the worker does not answer");

  rt::ready();
  rt::wait_term();

  RT_CHECK(g_conts == 1, "SIGCONT's handler ran %d times since the program got ready (want 1)", int(g_conts));
  RT_CHECK(g_echo.answers(2, 30), "the worker no longer answers");
  rt::pass();
}
