// One-shot epoll registrations across the round trip: two that have fired
// and were not re-armed (disarmed: the program handles their files
// elsewhere), and one still armed.
//
//   data  target                                   at the dump
//   1     pipe read end, one byte unread           fired, disarmed
//   2     socket (peer can write to it)            fired on EPOLLIN, disarmed
//   3     eventfd, count 0                         armed (EPOLLIN | EPOLLONESHOT)
//
// On SIGTERM: the set's fdinfo shows the same events (the disarmed ones
// only EPOLLONESHOT); the pipe's writer closes (EPOLLHUP), the socket's
// peer writes and shuts down (EPOLLIN, EPOLLRDHUP, EPOLLHUP) and nothing
// is reported for 1 and 2; the eventfd is written and 3 is reported; after
// EPOLL_CTL_MOD re-arms 1 and 2, both are reported.
#include "anonlib.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <map>
#include <set>

namespace {

void ctl(int set, int op, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  RT_CHECK(epoll_ctl(set, op, fd, &ev) == 0, "epoll_ctl(%d) fd %d: %s", op, fd, strerror(errno));
}

std::set<uint64_t> events_within(int set, int ms) {
  epoll_event evs[8];
  int n;
  do n = epoll_wait(set, evs, 8, ms);
  while (n < 0 && errno == EINTR);
  RT_CHECK(n >= 0, "epoll_wait: %s", strerror(errno));
  std::set<uint64_t> out;
  for (int i = 0; i < n; i++) out.insert(evs[i].data.u64);
  return out;
}

// The events of each registration, by fd: fdinfo "tfd: N events: E ...".
std::map<int, std::string> events_of(int set) {
  std::map<int, std::string> out;
  for (const std::string& l : rt::fdinfo_lines(set, "tfd:")) {
    int fd = 0;
    char events[32] = "";
    RT_CHECK(sscanf(l.c_str(), "tfd: %d events: %31s", &fd, events) == 2, "fdinfo line '%s'", l.c_str());
    out[fd] = events;
  }
  return out;
}

}  // namespace

int main() {
  int set = epoll_create1(EPOLL_CLOEXEC);
  int p[2], s[2];
  RT_CHECK(set >= 0 && pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "epoll, pipe, socketpair");
  int efd = eventfd(0, EFD_NONBLOCK);
  RT_CHECK(efd >= 0, "eventfd");
  RT_CHECK(write(p[1], "x", 1) == 1 && write(s[1], "y", 1) == 1, "write");
  ctl(set, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLONESHOT, 1);
  ctl(set, EPOLL_CTL_ADD, s[0], EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, 2);
  RT_CHECK(events_within(set, 1000) == (std::set<uint64_t>{1, 2}), "the one-shots did not fire");
  char c;
  RT_CHECK(read(s[0], &c, 1) == 1, "read the socket");
  ctl(set, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLONESHOT, 3);
  std::map<int, std::string> before = events_of(set);
  RT_CHECK(before[p[0]] == "40000000" && before[s[0]] == "40000000", "fired one-shots show %s and %s",
           before[p[0]].c_str(), before[s[0]].c_str());

  rt::block_term();
  rt::ready();
  rt::wait_term();

  std::map<int, std::string> after = events_of(set);
  RT_CHECK(after == before, "the registrations' events changed: %s was %s, %s was %s, %s was %s",
           after[p[0]].c_str(), before[p[0]].c_str(), after[s[0]].c_str(), before[s[0]].c_str(),
           after[efd].c_str(), before[efd].c_str());
  close(p[1]);
  RT_CHECK(write(s[1], "z", 1) == 1 && shutdown(s[1], SHUT_RDWR) == 0, "peer write and shutdown");
  uint64_t one = 1;
  RT_CHECK(write(efd, &one, sizeof one) == ssize_t(sizeof one), "write eventfd");
  std::set<uint64_t> got = events_within(set, 1000);
  RT_CHECK(got == std::set<uint64_t>{3}, "after the restore %zu registrations reported (%s); want only the armed one",
           got.size(), got.count(1) ? "the disarmed pipe among them" : got.count(2) ? "the disarmed socket among them" : "");
  ctl(set, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 1);
  ctl(set, EPOLL_CTL_MOD, s[0], EPOLLIN | EPOLLONESHOT, 2);
  got = events_within(set, 1000);
  RT_CHECK(got == (std::set<uint64_t>{1, 2}), "re-armed, %zu of the 2 one-shots reported", got.size());
  rt::pass();
}
