// POSIX timers across the round trip, with their ids (what the program
// holds): a periodic CLOCK_MONOTONIC timer signalling SIGRTMIN+4 with a
// value, a CLOCK_REALTIME SIGEV_NONE one-shot far away, a disarmed one, and
// a deleted timer between them, so the ids are not simply 0..n.
#include "testlib.h"

#include <stdint.h>
#include <sys/syscall.h>

namespace {

constexpr int kValue = 0x51f0;
constexpr long kPeriodNs = 20 * 1000 * 1000;
constexpr int kTicks = 5;

int tick_signal() { return SIGRTMIN + 4; }

// Raw kernel ids (glibc's timer_t would hide them).
int create(clockid_t clock, int notify, int signo, int value) {
  sigevent ev{};
  ev.sigev_notify = notify;
  ev.sigev_signo = signo;
  ev.sigev_value.sival_int = value;
  int id = -1;
  RT_CHECK(syscall(SYS_timer_create, clock, &ev, &id) == 0, "timer_create: %s", strerror(errno));
  return id;
}

void arm(int id, time_t value_sec, long value_nsec, long interval_nsec) {
  itimerspec spec{};
  spec.it_value = {value_sec, value_nsec};
  spec.it_interval = {0, interval_nsec};
  RT_CHECK(syscall(SYS_timer_settime, id, 0, &spec, nullptr) == 0, "timer_settime %d: %s", id, strerror(errno));
}

itimerspec get(int id, const char* what) {
  itimerspec spec{};
  RT_CHECK(syscall(SYS_timer_gettime, id, &spec) == 0, "%s timer %d is gone: %s", what, id, strerror(errno));
  return spec;
}

// Takes kTicks signals of the periodic timer, each within a bounded wait.
void check_ticks(int id) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, tick_signal());
  for (int i = 0; i < kTicks; i++) {
    siginfo_t si{};
    timespec limit{5, 0};
    int got = sigtimedwait(&set, &si, &limit);
    RT_CHECK(got == tick_signal(), "tick %d of the periodic timer did not come within 5 s", i);
    RT_CHECK(si.si_code == SI_TIMER, "tick %d has si_code %d", i, si.si_code);
    RT_CHECK(si.si_value.sival_int == kValue, "tick %d has value %#x", i, si.si_value.sival_int);
    RT_CHECK(si.si_timerid == id, "tick %d is of timer %d, not %d", i, si.si_timerid, id);
  }
}

}  // namespace

int main() {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, tick_signal());
  RT_CHECK(sigprocmask(SIG_BLOCK, &blocked, nullptr) == 0, "sigprocmask");
  rt::block_term();

  int periodic = create(CLOCK_MONOTONIC, SIGEV_SIGNAL, tick_signal(), kValue);
  int deleted = create(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
  int far = create(CLOCK_REALTIME, SIGEV_NONE, 0, 0);
  int disarmed = create(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
  RT_CHECK(syscall(SYS_timer_delete, deleted) == 0, "timer_delete");
  arm(periodic, 0, kPeriodNs, kPeriodNs);
  arm(far, 1000, 0, 0);

  rt::ready();
  rt::wait_term();

  itimerspec p = get(periodic, "the periodic");
  itimerspec f = get(far, "the far");
  itimerspec d = get(disarmed, "the disarmed");
  itimerspec none{};
  errno = 0;
  RT_CHECK(syscall(SYS_timer_gettime, deleted, &none) == -1 && errno == EINVAL,
           "the deleted timer %d exists again (errno %d)", deleted, errno);

  RT_CHECK(p.it_interval.tv_sec == 0 && p.it_interval.tv_nsec == kPeriodNs, "the periodic timer's interval is %ld.%09ld",
           long(p.it_interval.tv_sec), p.it_interval.tv_nsec);
  RT_CHECK(f.it_interval.tv_sec == 0 && f.it_interval.tv_nsec == 0, "the far timer became periodic");
  RT_CHECK(f.it_value.tv_sec >= 990 && f.it_value.tv_sec < 1000, "the far timer has %ld s left",
           long(f.it_value.tv_sec));
  RT_CHECK(d.it_value.tv_sec == 0 && d.it_value.tv_nsec == 0 && d.it_interval.tv_sec == 0 &&
               d.it_interval.tv_nsec == 0,
           "the disarmed timer is armed");
  check_ticks(periodic);
  rt::pass();
}
