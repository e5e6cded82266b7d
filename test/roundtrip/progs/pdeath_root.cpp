// Parent-death signals of the root's threads (main SIGUSR2, a second thread
// SIGRTMIN+4).  The root's parent after a restore is ckpt: restored without
// -d (attached), ckpt stays its parent until it ends, so the signals are
// kept and never fire.  (With -d the restore refuses, naming the thread.)
#include "mtlib.h"

#include <sys/prctl.h>

namespace {
std::atomic<int> g_set_up{0}, g_go{0};
rt::Report g_report;
int g_second_before = 0;

int pdeath() {
  int sig = 0;
  prctl(PR_GET_PDEATHSIG, &sig);
  return sig;
}

void* run(void*) {
  if (prctl(PR_SET_PDEATHSIG, SIGRTMIN + 4) != 0) g_report.fail("PR_SET_PDEATHSIG: %s", strerror(errno));
  g_second_before = pdeath();
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  if (pdeath() != SIGRTMIN + 4)
    g_report.fail("the second thread's pdeath signal is %d, want %d", pdeath(), SIGRTMIN + 4);
  else
    g_report.pass();
  return nullptr;
}
}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2, SIGRTMIN + 4});
  RT_CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR2) == 0, "PR_SET_PDEATHSIG: %s", strerror(errno));
  pthread_t t;
  RT_CHECK(pthread_create(&t, nullptr, run, nullptr) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, 1, 30), "the second thread did not set up");
  RT_CHECK(g_second_before == SIGRTMIN + 4, "the second thread's pdeath signal did not take");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  if (pdeath() != SIGUSR2) v.add("the main thread's pdeath signal is %d, want SIGUSR2", pdeath());
  rt::store_wake(g_go, 1);
  v.take(g_report, "the second thread", 30);
  if (!rt::join_within(t, 30)) v.add("the second thread cannot be joined");
  v.finish();
}
