// timerfds across the round trip: clocks, relative and absolute expiries,
// intervals, unread expiries, flags.
//
//   hour     relative, 1 h, MONOTONIC: not fired, about 1 h left
//   soon     relative, 1.5 s, BOOTTIME, O_NONBLOCK: fires about the time it
//            had left after the restore (a relative timer resumes with it)
//   due      absolute MONOTONIC deadline ready + 4 s: the same deadline
//            after the restore; fires then (or has, once)
//   ticked   relative 1 ms then every hour: fired once before the dump,
//            unread; reads 1 after the restore, next in about 1 h
//   missed   absolute REALTIME, TFD_TIMER_CANCEL_ON_SET, every hour from
//            2.5 h ago: 3 unread expiries, next in about 30 min
//   off      disarmed, O_NONBLOCK: nothing to read, (0, 0)
//
// Waits are bounded; the slack on times is generous (a loaded machine),
// the order of magnitude is what is checked.
#include "anonlib.h"

#include <sys/timerfd.h>

namespace {

constexpr double kSlack = 1.0;    // seconds
constexpr double kHour = 3600;

double to_seconds(const timespec& t) { return double(t.tv_sec) + double(t.tv_nsec) / 1e9; }
timespec from_seconds(double s) { return timespec{time_t(s), long((s - double(time_t(s))) * 1e9)}; }

double clock_seconds(clockid_t c) {
  timespec t;
  clock_gettime(c, &t);
  return to_seconds(t);
}

int make(clockid_t clock, int flags, int settime_flags, double value, double interval) {
  int fd = timerfd_create(clock, flags);
  RT_CHECK(fd >= 0, "timerfd_create: %s", strerror(errno));
  if (value > 0) {
    itimerspec its{from_seconds(interval), from_seconds(value)};
    RT_CHECK(timerfd_settime(fd, settime_flags, &its, nullptr) == 0, "timerfd_settime: %s", strerror(errno));
  }
  return fd;
}

itimerspec get(int fd) {
  itimerspec its;
  RT_CHECK(timerfd_gettime(fd, &its) == 0, "timerfd_gettime: %s", strerror(errno));
  return its;
}

// Expiries to read: 0 if none (the fd made non-blocking for the read).
uint64_t ticks(int fd) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  uint64_t n = 0;
  ssize_t r = read(fd, &n, sizeof(n));
  fcntl(fd, F_SETFL, fl);
  if (r < 0 && errno == EAGAIN) return 0;
  RT_CHECK(r == ssize_t(sizeof(n)), "read timerfd: %s", strerror(errno));
  return n;
}

void expect_near(double got, double want, double slack, const char* what) {
  RT_CHECK(got >= want - slack && got <= want + slack, "%s is %.3f s, want %.3f s (+-%.1f)", what, got, want, slack);
}

}  // namespace

int main() {
  rt::block_term();
  double start = rt::now_seconds();
  int hour = make(CLOCK_MONOTONIC, TFD_CLOEXEC, 0, kHour, 0);
  int soon = make(CLOCK_BOOTTIME, TFD_NONBLOCK, 0, 1.5, 0);
  double due_at = clock_seconds(CLOCK_MONOTONIC) + 4;
  int due = make(CLOCK_MONOTONIC, 0, TFD_TIMER_ABSTIME, due_at, 0);
  int ticked = make(CLOCK_MONOTONIC, 0, 0, 0.001, kHour);
  double missed_from = clock_seconds(CLOCK_REALTIME) - 2.5 * kHour;
  int missed = make(CLOCK_REALTIME, 0, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, missed_from, kHour);
  int off = make(CLOCK_REALTIME, TFD_NONBLOCK, 0, 0, 0);
  std::string missed_flags = rt::fdinfo_value(missed, "settime flags");
  // `ticked` has fired (and stays unread) before the dump.
  RT_CHECK(rt::readable_within(ticked, 5000), "ticked did not fire");
  rt::ready();
  rt::wait_term();
  double term_at = rt::now_seconds();
  RT_CHECK(term_at - start < 600, "the test took too long for its timers");

  // Clocks and flags.
  RT_CHECK(rt::fdinfo_value(hour, "clockid") == "1" && rt::fdinfo_value(soon, "clockid") == "7" &&
               rt::fdinfo_value(missed, "clockid") == "0",
           "clocks changed");
  RT_CHECK(rt::fdinfo_value(missed, "settime flags") == missed_flags, "missed's settime flags are %s, were %s",
           rt::fdinfo_value(missed, "settime flags").c_str(), missed_flags.c_str());
  RT_CHECK(rt::nonblocking(soon) && rt::nonblocking(off) && !rt::nonblocking(hour), "flags changed");
  RT_CHECK(fcntl(hour, F_GETFD) & FD_CLOEXEC, "hour lost FD_CLOEXEC");

  // hour: not fired, at most an hour left and not much less.
  itimerspec h = get(hour);
  RT_CHECK(ticks(hour) == 0, "hour fired");
  RT_CHECK(to_seconds(h.it_value) <= kHour && to_seconds(h.it_value) > kHour - (rt::now_seconds() - start) - kSlack,
           "hour has %.3f s left", to_seconds(h.it_value));

  // soon: its time left at SIGTERM is at most what it had at ready; it
  // fires when that is up.
  itimerspec s = get(soon);
  double left = to_seconds(s.it_value);
  uint64_t n = ticks(soon);
  if (n == 0) {
    RT_CHECK(left > 0 && left <= 1.5, "soon has %.3f s left", left);
    double t0 = rt::now_seconds();
    RT_CHECK(rt::readable_within(soon, 10000), "soon did not fire within 10 s");
    expect_near(rt::now_seconds() - t0, left, kSlack, "soon's wait");
    n = ticks(soon);
  }
  RT_CHECK(n == 1, "soon fired %llu times", (unsigned long long)n);

  // due: the same deadline on the same clock.
  double now = clock_seconds(CLOCK_MONOTONIC);
  if (now < due_at - 0.05) {
    expect_near(to_seconds(get(due).it_value), due_at - now, 0.2, "due's time left");
    RT_CHECK(rt::readable_within(due, 10000), "due did not fire within 10 s");
    RT_CHECK(clock_seconds(CLOCK_MONOTONIC) >= due_at - 0.01, "due fired before its deadline");
    expect_near(clock_seconds(CLOCK_MONOTONIC), due_at, kSlack, "due's firing time");
  } else {
    RT_CHECK(rt::readable_within(due, 1000), "due is past its deadline and did not fire");
  }
  RT_CHECK(ticks(due) == 1, "due did not fire once");

  // ticked: its unread expiry, then an hour to the next.
  itimerspec t = get(ticked);
  expect_near(to_seconds(t.it_interval), kHour, 0.001, "ticked's interval");
  RT_CHECK(to_seconds(t.it_value) <= kHour && to_seconds(t.it_value) > kHour - (rt::now_seconds() - start) - kSlack,
           "ticked has %.3f s left", to_seconds(t.it_value));
  n = ticks(ticked);
  RT_CHECK(n == 1, "ticked has %llu unread expiries, want 1", (unsigned long long)n);

  // missed: 2.5 h ago, 1.5 h ago, 30 min ago; next in 30 min.
  itimerspec m = get(missed);
  expect_near(to_seconds(m.it_value), 0.5 * kHour - (clock_seconds(CLOCK_REALTIME) - missed_from - 2.5 * kHour),
              kSlack + 1, "missed's time left");
  n = ticks(missed);
  RT_CHECK(n == 3, "missed has %llu unread expiries, want 3", (unsigned long long)n);

  // off: disarmed.
  itimerspec o = get(off);
  RT_CHECK(o.it_value.tv_sec == 0 && o.it_value.tv_nsec == 0 && o.it_interval.tv_sec == 0, "off is armed");
  RT_CHECK(ticks(off) == 0, "off fired");
  rt::pass();
}
