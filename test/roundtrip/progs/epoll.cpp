// An epoll set across the round trip, watching five kinds of fds, one of
// them held by a child only, one closed in the process but still
// registered, one another epoll set.
//
//   set   data  target                                events
//         101   eventfd e1 (count 1 before the dump)  EPOLLIN
//         102   timerfd, fired before the dump        EPOLLIN | EPOLLET
//         103   signalfd of SIGUSR2 (pending)          EPOLLIN
//         104   inotify on epoll-dir                   EPOLLIN | EPOLLONESHOT
//         105   epoll set inner (its eventfd e2 has 1) EPOLLIN
//         106   eventfd e3, closed by P, held by C     EPOLLIN | EPOLLEXCLUSIVE
//         107   eventfd e4 registered as fd N, which
//               P then closed, keeping a dup M         EPOLLIN
//
// On SIGTERM: the set's fdinfo lists the same fds, events and data; P
// creates a file in epoll-dir, asks C (SIGUSR2) to write e3,
// writes e4 through M, and collects events until it has seen each data
// once: 101 ... 107, and lets C end (SIGUSR2).  Then EPOLL_CTL_DEL of e1 works and a write to e1 is
// not reported; EPOLL_CTL_MOD of the signalfd to data 203 is reported with
// 203; fd N is closed, so EPOLL_CTL_DEL of N fails with EBADF, as it did
// before the dump.
#include "anonlib.h"
#include "fslib.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <map>
#include <set>

namespace {

void add(int set, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) == 0, "EPOLL_CTL_ADD fd %d: %s", fd, strerror(errno));
}

void bump(int efd) {
  uint64_t one = 1;
  RT_CHECK(write(efd, &one, sizeof(one)) == ssize_t(sizeof(one)), "write eventfd: %s", strerror(errno));
}

// Data of the events of `set` within `ms`.
std::vector<uint64_t> wait_events(int set, int ms) {
  epoll_event evs[16];
  int n;
  do n = epoll_wait(set, evs, 16, ms);
  while (n < 0 && errno == EINTR);
  RT_CHECK(n >= 0, "epoll_wait: %s", strerror(errno));
  std::vector<uint64_t> out;
  for (int i = 0; i < n; i++) out.push_back(evs[i].data.u64);
  return out;
}

// "tfd: N events: E data: D" without the inode (a new inotify or epoll
// after a restore), in a set: the order is the kernel's.
std::set<std::string> registrations(int set) {
  std::set<std::string> out;
  for (std::string l : rt::fdinfo_lines(set, "tfd:")) {
    size_t pos = l.find(" pos:");
    out.insert(l.substr(0, pos));
  }
  return out;
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2, SIGCHLD});
  mkdir("epoll-dir", 0755);
  pid_t p = getpid();
  int e1 = eventfd(1, EFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  itimerspec its{{0, 0}, {0, 1000000}};
  RT_CHECK(tfd >= 0 && timerfd_settime(tfd, 0, &its, nullptr) == 0, "timerfd");
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  int sfd = signalfd(-1, &usr2, SFD_NONBLOCK);
  int in = inotify_init1(IN_NONBLOCK);
  RT_CHECK(sfd >= 0 && in >= 0 && inotify_add_watch(in, "epoll-dir", IN_CREATE) == 1, "signalfd, inotify");
  int inner = epoll_create1(0);
  int e2 = eventfd(1, EFD_NONBLOCK);
  add(inner, e2, EPOLLIN, 1);
  int e3 = eventfd(0, EFD_NONBLOCK);
  int e4 = eventfd(0, EFD_NONBLOCK);
  int set = epoll_create1(EPOLL_CLOEXEC);
  RT_CHECK(set >= 0 && inner >= 0 && e1 >= 0 && e2 >= 0 && e3 >= 0 && e4 >= 0, "epoll, eventfd");
  add(set, e1, EPOLLIN, 101);
  add(set, tfd, EPOLLIN | EPOLLET, 102);
  add(set, sfd, EPOLLIN, 103);
  add(set, in, EPOLLIN | EPOLLONESHOT, 104);
  add(set, inner, EPOLLIN, 105);
  add(set, e3, EPOLLIN | EPOLLEXCLUSIVE, 106);
  add(set, e4, EPOLLIN, 107);
  int closed_number = e4;
  int m = dup(e4);
  close(e4);
  pid_t c = fork();
  RT_CHECK(c >= 0, "fork");
  if (c == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rt::await_signal_from(SIGUSR2, p, "word from the parent");
    bump(e3);
    // Not before the parent has seen it: e3 ends with this process (the
    // parent closed its fd), and its registration with it.
    rt::await_signal_from(SIGUSR2, p, "second word from the parent");
    _exit(0);
  }
  close(e3);
  RT_CHECK(kill(p, SIGUSR2) == 0, "kill");  // pending: the signalfd is readable
  RT_CHECK(rt::readable_within(tfd, 5000), "the timer did not fire");
  std::set<std::string> before = registrations(set);
  RT_CHECK(before.size() == 7, "%zu registrations", before.size());
  rt::ready();
  rt::wait_term();

  std::set<std::string> after = registrations(set);
  RT_CHECK(after == before, "the registrations changed (%zu, was %zu): %s ...", after.size(), before.size(),
           after.empty() ? "none" : after.begin()->c_str());
  RT_CHECK(fcntl(set, F_GETFD) & FD_CLOEXEC, "the set lost FD_CLOEXEC");
  RT_CHECK(fcntl(closed_number, F_GETFD) < 0 && errno == EBADF, "fd %d is open again", closed_number);

  std::string name = "epoll-dir/new-" + std::to_string(getpid()) + "-" + std::to_string(long(rt::now_seconds() * 1000));
  int f = open(name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  RT_CHECK(f >= 0, "create %s", name.c_str());
  close(f);
  unlink(name.c_str());
  RT_CHECK(kill(c, SIGUSR2) == 0, "signal C");
  bump(m);
  std::map<uint64_t, int> seen;
  double deadline = rt::now_seconds() + 10;
  while (seen.size() < 7 && rt::now_seconds() < deadline)
    for (uint64_t d : wait_events(set, 500)) seen[d]++;
  for (uint64_t d = 101; d <= 107; d++) RT_CHECK(seen.count(d), "no event with data %llu", (unsigned long long)d);
  RT_CHECK(seen.size() == 7, "events with unknown data");
  rt::check_child_passes(c, "child C");

  // DEL of e1 by its number; a write to it is no event any more.
  epoll_event ev{};
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_DEL, e1, &ev) == 0, "EPOLL_CTL_DEL e1: %s", strerror(errno));
  // MOD of the signalfd (still pending SIGUSR2): reported with its new data.
  ev.events = EPOLLIN;
  ev.data.u64 = 203;
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_MOD, sfd, &ev) == 0, "EPOLL_CTL_MOD sfd: %s", strerror(errno));
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_DEL, closed_number, &ev) < 0 && errno == EBADF, "DEL of closed fd %d",
           closed_number);
  // Quiet the others: read what is pending.
  uint64_t v;
  (void)!read(m, &v, sizeof(v));
  (void)!read(tfd, &v, sizeof(v));
  ev.events = EPOLLIN;
  ev.data.u64 = 105;
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_DEL, inner, &ev) == 0, "EPOLL_CTL_DEL inner: %s", strerror(errno));
  bump(e1);
  bool got_203 = false;
  for (uint64_t d : wait_events(set, 1000)) {
    RT_CHECK(d != 101, "a write to e1 is reported after EPOLL_CTL_DEL");
    got_203 = got_203 || d == 203;
  }
  RT_CHECK(got_203, "the signalfd is not reported with its new data 203");
  rt::pass();
}
