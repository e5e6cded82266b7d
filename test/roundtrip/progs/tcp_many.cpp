// scripts/bench.sh's tcp:N scenario (a benchmark's processes, not a test):
//
//   rt_tcp_many helper N PORT
//       Outside the dumped tree: listens on 127.0.0.1:PORT, accepts N
//       connections and writes 64 KiB of tcplib.h's pattern on each (which
//       the holder never reads before its end: queued at dump time), then
//       prints "ready".  It reads the holder's heartbeats and keeps, per
//       connection, its longest gap between two of them and when that gap
//       ended.  On SIGUSR1 (the restore is done) it prints "flowing" once
//       every connection had a heartbeat since.  When every connection
//       reached EOF (the holder ended) it prints one line:
//         gap_max_ms X gap_median_ms Y resume_max T resume_median T resets R eof E
//       (resume: CLOCK_REALTIME seconds at which the longest gap ended).
//   rt_tcp_many holder N PORT PERIOD_MS
//       The dumped process: N connections to the helper, "ready", then a
//       heartbeat byte on every connection each PERIOD_MS.  On SIGTERM it
//       reads the 64 KiB on each and prints "OK" if every byte is the
//       pattern (else "BAD ..."), and exits.
#include "tcplib.h"

#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <vector>

using namespace rt;
using namespace rt::tcp;

namespace {

constexpr size_t kQueuedEach = 64 * 1024;

double realtime() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

void raise_fd_limit(int n) {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  rlim_t want = rlim_t(n) + 64;
  if (r.rlim_cur < want) {
    r.rlim_cur = std::min(want, r.rlim_max);
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

volatile sig_atomic_t g_usr1 = 0;
void on_usr1(int) { g_usr1 = 1; }

struct Conn {
  int fd;
  double last = 0, gap = 0, resume = 0;
  bool eof = false, reset = false;
};

[[noreturn]] void helper(int n, int port) {
  raise_fd_limit(n);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  inet::setopt_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
  inet::bind_to(l, AF_INET, "127.0.0.1", port);
  RT_CHECK(listen(l, 4096) == 0, "listen: %s", strerror(errno));
  printf("listening\n");
  fflush(stdout);
  std::vector<Conn> conns;
  static char data[kQueuedEach];
  fill(kSeedA, 0, data, sizeof(data));
  for (int i = 0; i < n; i++) {
    RT_CHECK(readable_within(l, 60), "connection %d of %d: none within 60 s", i + 1, n);
    int fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    RT_CHECK(fd >= 0, "accept: %s", strerror(errno));
    inet::setopt_int(fd, SOL_SOCKET, SO_SNDBUF, 256 * 1024);
    write_stream(fd, kSeedA, 0, kQueuedEach);
    conns.push_back({fd});
  }
  // Everything written has reached the holder (or waits in our send queue:
  // queued at dump time all the same); bounded.
  double deadline = now_seconds() + 30;
  size_t in_flight = 0;
  do {
    in_flight = 0;
    for (Conn& c : conns) in_flight += size_t(queued_out(c.fd));
  } while (in_flight > 0 && now_seconds() < deadline && usleep(10000) == 0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < conns.size(); i++) {
    set_nonblock(conns[i].fd, true);
    epoll_event ev{EPOLLIN, {.u64 = i}};
    RT_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) == 0, "epoll_ctl");
    conns[i].last = realtime();
  }
  struct sigaction sa{};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);
  printf("ready (%zu bytes still in flight)\n", in_flight);
  fflush(stdout);
  double usr1_at = 0;
  bool flowing_said = false;
  int open = n;
  std::vector<epoll_event> evs(256);
  while (open > 0) {
    int k = epoll_wait(ep, evs.data(), int(evs.size()), 100);
    double t = realtime();
    if (g_usr1 && usr1_at == 0) usr1_at = t;
    for (int e = 0; e < k; e++) {
      Conn& c = conns[evs[e].data.u64];
      char buf[4096];
      ssize_t r;
      while ((r = recv(c.fd, buf, sizeof(buf), 0)) > 0) {
        if (t - c.last > c.gap) c.gap = t - c.last, c.resume = t;
        c.last = t;
      }
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        c.eof = true;
        c.reset = r < 0 && errno == ECONNRESET;
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        open--;
      }
    }
    if (usr1_at > 0 && !flowing_said &&
        std::all_of(conns.begin(), conns.end(), [&](const Conn& c) { return c.last >= usr1_at; })) {
      printf("flowing\n");
      fflush(stdout);
      flowing_said = true;
    }
  }
  std::vector<double> gaps, resumes;
  int resets = 0, eofs = 0;
  for (Conn& c : conns) {
    gaps.push_back(c.gap);
    resumes.push_back(c.resume);
    resets += c.reset;
    eofs += c.eof && !c.reset;
  }
  std::sort(gaps.begin(), gaps.end());
  std::sort(resumes.begin(), resumes.end());
  printf("gap_max_ms %.0f gap_median_ms %.0f resume_max %.3f resume_median %.3f resets %d eof %d\n",
         gaps.back() * 1000, gaps[gaps.size() / 2] * 1000, resumes.back(), resumes[resumes.size() / 2], resets, eofs);
  fflush(stdout);
  _exit(0);
}

[[noreturn]] void holder(int n, int port, int period_ms) {
  raise_fd_limit(n);
  std::vector<int> fds;
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    RT_CHECK(fd >= 0, "socket %d: %s", i, strerror(errno));
    inet::connect_to(fd, AF_INET, "127.0.0.1", port);
    inet::setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_nonblock(fd, true);
    fds.push_back(fd);
  }
  install_term_flag();
  printf("ready\n");
  fflush(stdout);
  long errors = 0;
  while (!g_term) {
    for (int fd : fds)
      if (send(fd, "h", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) errors++;
    usleep(useconds_t(period_ms) * 1000);
  }
  static char buf[kQueuedEach];
  int bad = 0;
  for (int fd : fds) {
    set_nonblock(fd, false);
    size_t got = 0;
    while (got < kQueuedEach) {
      if (!readable_within(fd, 30)) break;
      ssize_t r = recv(fd, buf + got, kQueuedEach - got, 0);
      if (r <= 0) break;
      got += size_t(r);
    }
    if (got != kQueuedEach || mismatch(kSeedA, 0, buf, kQueuedEach) != SIZE_MAX) bad++;
  }
  if (bad == 0 && errors == 0) printf("OK\n");
  else printf("BAD: %d connections lost queued bytes, %ld heartbeat write errors\n", bad, errors);
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc == 4 && strcmp(argv[1], "helper") == 0) helper(atoi(argv[2]), atoi(argv[3]));
  if (argc == 5 && strcmp(argv[1], "holder") == 0) holder(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr, "usage: rt_tcp_many helper N PORT | holder N PORT PERIOD_MS\n");
  return 2;
}
