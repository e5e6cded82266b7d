// Threads blocked in system calls at dump time, each of which must go on
// as if nothing had happened:
//   futex      FUTEX_WAIT, no timeout; after SIGTERM the main thread changes
//              the word and wakes it: FUTEX_WAKE must find exactly this one
//              waiter and the wait must return 0 (not EINTR, not EAGAIN);
//   nanosleep  3 s, started just before ready(): returns 0 (not EINTR) and
//              not early (CLOCK_MONOTONIC, the clock of the sleep);
//   absolute   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), 3 s ahead:
//              returns 0 and not before its deadline;
//   sigwait    sigwaitinfo for SIGUSR2 (the raw rt_sigtimedwait with no
//              timeout: glibc's wrapper turns SI_TKILL into SI_USER), which
//              the main thread sends it with tgkill after SIGTERM: exactly
//              that signal, SI_TKILL, from us.
//              A job-control stop makes Linux end sigwaitinfo with EINTR
//              (the driver's `stopped` mode); a dump must not: ckpt puts
//              a wait that only its freeze ended back into the wait, both
//              for the tree it lets run on and for the restored one.
// Before ready() the main thread waits until /proc shows each thread asleep
// in its call; after SIGTERM it checks the futex and sigwait threads are
// still there (not returned, asleep in the same call again).  Each thread
// has a signal mask of its own (SIGRTMIN+k) and checks it afterwards.
#include "mtlib.h"

#include <sys/time.h>

namespace {

constexpr double kSleepSeconds = 3;

struct Blocked {
  const char* what;
  long syscall_nr;
  void (*body)(Blocked&);
  int k = 0;  // its own blocked signal is SIGRTMIN+k
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  rt::Report report{};
};

std::atomic<int> g_word{0};
std::atomic<int> g_usr2_sent{0};

uint64_t mask_of(const Blocked& b) { return rt::bit(SIGTERM) | rt::bit(SIGUSR2) | rt::bit(SIGRTMIN + b.k); }

bool check_common(Blocked& b) {
  if (gettid() != b.tid.load()) {
    b.report.fail("tid %d, was %d", gettid(), b.tid.load());
    return false;
  }
  if (rt::thread_mask() != mask_of(b)) {
    b.report.fail("signal mask %#llx, want %#llx", (unsigned long long)rt::thread_mask(),
                  (unsigned long long)mask_of(b));
    return false;
  }
  return true;
}

void in_futex(Blocked& b) {
  long r = syscall(SYS_futex, rt::word_of(g_word), FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
  int err = errno;
  RT_TCHECK(b.report, r == 0, "FUTEX_WAIT returned %ld: %s", r, strerror(err));
  RT_TCHECK(b.report, g_word.load() == 1, "FUTEX_WAIT returned 0 but the word is still %d", g_word.load());
  if (check_common(b)) b.report.pass();
}

void in_nanosleep(Blocked& b) {
  double start = rt::now_seconds();
  timespec req{time_t(kSleepSeconds), 0}, rem{};
  long r = syscall(SYS_nanosleep, &req, &rem);
  int err = errno;
  double slept = rt::now_seconds() - start;
  RT_TCHECK(b.report, r == 0, "nanosleep returned %ld: %s after %.3f s (%ld.%09ld left)", r, strerror(err), slept,
            long(rem.tv_sec), rem.tv_nsec);
  RT_TCHECK(b.report, slept >= kSleepSeconds - 1e-6, "nanosleep of %.0f s returned after %.3f s", kSleepSeconds,
            slept);
  if (check_common(b)) b.report.pass();
}

void in_absolute(Blocked& b) {
  timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += time_t(kSleepSeconds);
  long r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr);
  int err = errno;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  RT_TCHECK(b.report, r == 0, "clock_nanosleep(TIMER_ABSTIME) returned %ld: %s", r, strerror(err));
  RT_TCHECK(b.report, now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec),
            "clock_nanosleep(TIMER_ABSTIME) returned %ld.%09ld, before its deadline %ld.%09ld", long(now.tv_sec),
            now.tv_nsec, long(deadline.tv_sec), deadline.tv_nsec);
  if (check_common(b)) b.report.pass();
}

void in_sigwait(Blocked& b) {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  siginfo_t si{};
  int eintr = 0, got;
  while ((got = int(syscall(SYS_rt_sigtimedwait, &usr2, &si, nullptr, size_t(_NSIG / 8)))) < 0 && errno == EINTR)
    eintr++;
  RT_TCHECK(b.report, got == SIGUSR2, "sigwaitinfo returned %d: %s", got, strerror(errno));
  RT_TCHECK(b.report, g_usr2_sent.load() == 1, "SIGUSR2 came before the main thread sent it");
  RT_TCHECK(b.report, si.si_code == SI_TKILL, "SIGUSR2 has si_code %d, want SI_TKILL", si.si_code);
  RT_TCHECK(b.report, si.si_pid == getpid() && si.si_uid == getuid(), "SIGUSR2 from pid %d uid %d", si.si_pid,
            si.si_uid);
  const char* mode = getenv("CKPT_TEST_MODE");
  bool job_control_stop = mode && !strcmp(mode, "stopped");
  RT_TCHECK(b.report, !eintr || job_control_stop, "sigwaitinfo returned EINTR %d time(s) (mode %s)", eintr,
            mode ? mode : "?");
  if (check_common(b)) b.report.pass();
}

Blocked g_blocked[] = {
    {"futex", SYS_futex, in_futex},
    {"sigwait", SYS_rt_sigtimedwait, in_sigwait},
    {"nanosleep", SYS_nanosleep, in_nanosleep},
    {"absolute", SYS_clock_nanosleep, in_absolute},
};

void* run(void* arg) {
  Blocked& b = *static_cast<Blocked*>(arg);
  b.tid = gettid();
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, SIGRTMIN + b.k);
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  b.body(b);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  RT_CHECK(sigprocmask(SIG_BLOCK, &usr2, nullptr) == 0, "sigprocmask");  // in every thread
  pid_t pid = getpid();

  // The sleeps go last, so that they start just before ready().
  int k = 0;
  for (Blocked& b : g_blocked) {
    b.k = k++;
    RT_CHECK(pthread_create(&b.handle, nullptr, run, &b) == 0, "pthread_create %s", b.what);
    RT_CHECK(rt::poll_until([&] { return b.tid.load() != 0; }, 10), "thread %s did not start", b.what);
  }
  for (Blocked& b : g_blocked)
    RT_CHECK(rt::await_in_syscall(b.tid, b.syscall_nr, 10), "thread %s is not asleep in syscall %ld within 10 s",
             b.what, b.syscall_nr);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  Blocked& futex = g_blocked[0];
  Blocked& sigwait = g_blocked[1];
  for (Blocked* b : {&futex, &sigwait}) {
    if (b->report.state.load() != 0)
      v.add("thread %s returned before it was woken: %s", b->what,
            b->report.state.load() == 2 ? b->report.why : "passed");
    else if (!rt::await_in_syscall(b->tid, b->syscall_nr, 10))
      v.add("thread %s is not asleep in syscall %ld (it is in %ld)", b->what, b->syscall_nr, rt::task_syscall(b->tid));
  }

  g_word.store(1);
  long woken = rt::futex_wake(g_word);
  if (woken != 1) v.add("FUTEX_WAKE woke %ld waiters, want 1", woken);
  g_usr2_sent.store(1);
  if (syscall(SYS_tgkill, pid, sigwait.tid.load(), SIGUSR2) != 0) v.add("tgkill: %s", strerror(errno));

  for (Blocked& b : g_blocked) v.take(b.report, b.what, 30);
  for (Blocked& b : g_blocked)
    if (!rt::join_within(b.handle, 30)) v.add("thread %s cannot be joined within 30 s", b.what);
  v.finish();
}
