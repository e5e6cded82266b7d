// timerfd: its clock, next expiry, interval and the expiries not yet read
// (fdinfo clockid, ticks, settime flags, it_value, it_interval).
//
// Time while dumped: a relative timer resumes with the time it had left at
// dump (the time the tree spent dumped does not count, as for its POSIX
// timers); an absolute one (TFD_TIMER_ABSTIME) keeps its expiry on its
// clock, so a CLOCK_REALTIME, MONOTONIC or BOOTTIME deadline restored on the
// same machine is the same deadline.  One that passed while dumped has
// expired by restore: its expiries (one, plus each interval since) are
// added to the unread ones, as the kernel would have counted them.  On
// another machine a MONOTONIC or BOOTTIME deadline would mean another time.
// The unread expiries are put back with TFD_IOC_SET_TICKS.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/anon_fdinfo.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

constexpr uint64_t kNs = 1000000000;

// <linux/timerfd.h> has it, but clashes with <sys/timerfd.h>.
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[timerfd]"; }

uint64_t to_ns(const timespec& t) { return uint64_t(t.tv_sec) * kNs + uint64_t(t.tv_nsec); }
timespec to_timespec(uint64_t ns) { return timespec{time_t(ns / kNs), long(ns % kNs)}; }

uint64_t clock_now(uint32_t clock) {
  timespec now;
  if (clock_gettime(clockid_t(clock), &now) < 0) throw sys_error(format("cannot read clock %u", clock));
  return to_ns(now);
}

struct TimerState {
  uint32_t clock = 0, settime_flags = 0;
  uint64_t ticks = 0, left = 0, interval = 0;
};

TimerState parse_state(const proc::Fdinfo& info) {
  TimerState s;
  s.clock = uint32_t(fdinfo_number(fdinfo_value(info, "clockid"), 10, "clockid"));
  s.ticks = fdinfo_number(fdinfo_value(info, "ticks"), 10, "ticks");
  s.settime_flags = uint32_t(fdinfo_number(fdinfo_value(info, "settime flags"), 8, "settime flags"));
  s.left = fdinfo_timespec_ns(fdinfo_value(info, "it_value"), "it_value");
  s.interval = fdinfo_timespec_ns(fdinfo_value(info, "it_interval"), "it_interval");
  return s;
}

// The timer as the kernel has it now.  A periodic timer that expired stays
// at its old expiry (time left 0, one tick) until it is read or asked:
// timerfd_gettime() moves it to its next expiry and counts every interval
// it missed into the ticks, as a read would, without reading them.  Then
// fdinfo shows the ticks, time left and interval together.
TimerState current_state(int fd) {
  TimerState s;
  for (int attempt = 0; attempt < 3; attempt++) {
    itimerspec cur;
    if (timerfd_gettime(fd, &cur) < 0) throw sys_error("timerfd_gettime");
    s = parse_state(own_fdinfo(fd));
    if (s.interval == 0 || s.left != 0) return s;
  }
  // An interval shorter than our reading: it is as good as one away.
  s.left = s.interval;
  return s;
}

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  TimerState s = current_state(fd.file.get());
  img::TimerfdEntry* e = entry.mutable_timerfd();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  e->set_clockid(s.clock);
  e->set_settime_flags(s.settime_flags);
  e->set_ticks(s.ticks);
  e->set_interval_ns(s.interval);
  // The kernel shows the time left even of an absolute timer: its expiry
  // is now plus that (to within the microseconds between the two reads).
  uint64_t value = s.left;
  if (value && (s.settime_flags & TFD_TIMER_ABSTIME)) value += clock_now(s.clock);
  e->set_value_ns(value);
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_timerfd()) throw Error("its file entry has no timerfd");
  uint32_t clock = entry.timerfd().clockid();
  timespec res;
  if (clock_getres(clockid_t(clock), &res) < 0) throw Error(format("its clock %u is not known here", clock));
}

// An absolute expiry already past: the kernel would have counted it, and
// each interval since, by now.  Returns those expiries and moves `value`
// to the first one still ahead (0: a one-shot timer, disarmed).
uint64_t expiries_missed(uint64_t& value, uint64_t interval, uint64_t now) {
  if (value == 0 || value > now) return 0;
  if (interval == 0) {
    value = 0;
    return 1;
  }
  uint64_t missed = 1 + (now - value) / interval;
  value += missed * interval;
  return missed;
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::TimerfdEntry& e = entry.timerfd();
  UniqueFd fd(timerfd_create(clockid_t(e.clockid()), TFD_CLOEXEC | (e.flags() & O_NONBLOCK ? TFD_NONBLOCK : 0)));
  if (!fd) throw sys_error(format("timerfd_create of clock %u", e.clockid()));
  uint64_t value = e.value_ns(), ticks = e.ticks();
  bool absolute = e.settime_flags() & TFD_TIMER_ABSTIME;
  if (absolute) ticks += expiries_missed(value, e.interval_ns(), clock_now(e.clockid()));
  // A disarmed timer too, if it has settime flags: the kernel shows them.
  if (value || e.settime_flags()) {
    itimerspec its{to_timespec(value ? e.interval_ns() : 0), to_timespec(value)};
    if (timerfd_settime(fd.get(), int(e.settime_flags()), &its, nullptr) < 0)
      throw sys_error(format("timerfd_settime (flags 0%o)", e.settime_flags()));
  }
  // After timerfd_settime, which clears them.
  if (ticks && ioctl(fd.get(), TFD_IOC_SET_TICKS, &ticks) < 0) {
    if (errno == ENOTTY || errno == EINVAL)
      throw sys_error(format("cannot put back its %llu unread expiries: this kernel has no TFD_IOC_SET_TICKS "
                             "(CONFIG_CHECKPOINT_RESTORE)",
                             (unsigned long long)ticks));
    throw sys_error(format("cannot put back its %llu unread expiries", (unsigned long long)ticks));
  }
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_timerfd()) return "?";
  const img::TimerfdEntry& e = entry.timerfd();
  return format("timerfd clock %u, %s %llu ns, interval %llu ns, %llu unread (flags 0%o)", e.clockid(),
                e.settime_flags() & TFD_TIMER_ABSTIME ? "due at" : "left", (unsigned long long)e.value_ns(),
                (unsigned long long)e.interval_ns(), (unsigned long long)e.ticks(), e.flags());
}

}  // namespace

const FileModule kTimerfdModule = {
    .kind = img::FILE_TIMERFD,
    .name = "timerfd",
    .open_per_fd = false,
    .claims = claims,
    .blocker = nullptr,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
