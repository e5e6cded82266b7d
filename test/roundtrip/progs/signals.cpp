// Signal state across the round trip: handlers with their flags and masks,
// an ignored signal, the blocked mask, queued real-time signals with their
// values (process-wide and thread-private), an alternate stack used by a
// handler, and an interval timer that keeps ticking.
#include "testlib.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>

namespace {

constexpr size_t kAltSize = 64 * 1024;
char* g_alt = nullptr;
volatile sig_atomic_t g_usr2_on_alt = -1;
volatile sig_atomic_t g_usr2_value = 0;
volatile sig_atomic_t g_alarms = 0;

void on_usr2(int, siginfo_t* si, void*) {
  char local;
  g_usr2_on_alt = (&local >= g_alt && &local < g_alt + kAltSize);
  g_usr2_value = si->si_value.sival_int;
}

void on_alarm(int) { g_alarms = g_alarms + 1; }

int rt2() { return SIGRTMIN + 2; }
int rt3() { return SIGRTMIN + 3; }

void queue_self(int sig, int value, bool thread_private) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = value;
  long r = thread_private ? syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &si)
                          : syscall(SYS_rt_sigqueueinfo, getpid(), sig, &si);
  RT_CHECK(r == 0, "queue signal %d", sig);
}

int take(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  siginfo_t si{};
  timespec zero{0, 0};
  int got = sigtimedwait(&set, &si, &zero);
  RT_CHECK(got == sig, "signal %d is not pending", sig);
  return si.si_value.sival_int;
}

}  // namespace

int main() {
  g_alt = static_cast<char*>(malloc(kAltSize));
  stack_t ss{};
  ss.ss_sp = g_alt;
  ss.ss_size = kAltSize;
  RT_CHECK(sigaltstack(&ss, nullptr) == 0, "sigaltstack");

  struct sigaction sa {};
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGHUP);
  RT_CHECK(sigaction(SIGUSR2, &sa, nullptr) == 0, "sigaction USR2");
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  RT_CHECK(sigaction(SIGINT, &ign, nullptr) == 0, "sigaction INT");
  struct sigaction alarm {};
  alarm.sa_handler = on_alarm;
  alarm.sa_flags = SA_RESTART;
  RT_CHECK(sigaction(SIGALRM, &alarm, nullptr) == 0, "sigaction ALRM");

  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, rt2());
  sigaddset(&blocked, rt3());
  sigaddset(&blocked, SIGWINCH);
  RT_CHECK(sigprocmask(SIG_BLOCK, &blocked, nullptr) == 0, "sigprocmask");
  rt::block_term();
  queue_self(rt2(), 4242, false);
  queue_self(rt2(), 4343, false);
  queue_self(rt3(), 77, true);

  itimerval it{};
  it.it_interval.tv_usec = 50000;
  it.it_value.tv_usec = 50000;
  RT_CHECK(setitimer(ITIMER_REAL, &it, nullptr) == 0, "setitimer");
  itimerval virt{};
  virt.it_interval.tv_sec = 1000;
  virt.it_value.tv_sec = 900;
  RT_CHECK(setitimer(ITIMER_VIRTUAL, &virt, nullptr) == 0, "setitimer virtual");

  rt::ready();
  rt::wait_term();

  struct sigaction now {};
  RT_CHECK(sigaction(SIGUSR2, nullptr, &now) == 0, "query USR2");
  RT_CHECK(now.sa_sigaction == on_usr2, "USR2 handler lost");
  RT_CHECK((now.sa_flags & (SA_SIGINFO | SA_ONSTACK | SA_RESTART)) == (SA_SIGINFO | SA_ONSTACK | SA_RESTART),
           "USR2 flags are %#x", now.sa_flags);
  RT_CHECK(sigismember(&now.sa_mask, SIGHUP) == 1, "USR2 handler mask lost SIGHUP");
  RT_CHECK(sigaction(SIGINT, nullptr, &now) == 0 && now.sa_handler == SIG_IGN, "SIGINT is no longer ignored");

  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  RT_CHECK(sigismember(&mask, rt2()) && sigismember(&mask, rt3()) && sigismember(&mask, SIGWINCH) &&
               sigismember(&mask, SIGTERM) && !sigismember(&mask, SIGUSR2),
           "blocked mask changed");

  sigset_t pending;
  sigpending(&pending);
  RT_CHECK(sigismember(&pending, rt2()) && sigismember(&pending, rt3()), "queued signals lost");
  int a = take(rt2()), b = take(rt2()), c = take(rt3());
  RT_CHECK(a == 4242 && b == 4343, "rt2 values %d %d", a, b);
  RT_CHECK(c == 77, "rt3 value %d", c);

  stack_t cur{};
  RT_CHECK(sigaltstack(nullptr, &cur) == 0, "sigaltstack query");
  RT_CHECK(cur.ss_sp == g_alt && cur.ss_size == kAltSize, "alternate stack changed");
  union sigval v;
  v.sival_int = 99;
  RT_CHECK(sigqueue(getpid(), SIGUSR2, v) == 0, "sigqueue USR2");
  RT_CHECK(g_usr2_value == 99, "USR2 handler did not run");
  RT_CHECK(g_usr2_on_alt == 1, "USR2 handler did not run on the alternate stack");

  itimerval left{};
  getitimer(ITIMER_REAL, &left);
  RT_CHECK(left.it_interval.tv_usec == 50000 && left.it_interval.tv_sec == 0, "ITIMER_REAL interval lost");
  int before = g_alarms;
  double until = rt::now_seconds() + 5;
  while (g_alarms == before && rt::now_seconds() < until) usleep(10000);
  RT_CHECK(g_alarms > before, "ITIMER_REAL stopped ticking");
  getitimer(ITIMER_VIRTUAL, &left);
  RT_CHECK(left.it_interval.tv_sec == 1000 && left.it_value.tv_sec >= 890 && left.it_value.tv_sec <= 900,
           "ITIMER_VIRTUAL is %ld/%ld", long(left.it_interval.tv_sec), long(left.it_value.tv_sec));
  rt::pass();
}
