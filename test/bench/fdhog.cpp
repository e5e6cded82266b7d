// The benchmark's target for many fds: N eventfds (the i-th holding count
// i + 1), and with --epoll an epoll set registering every one of them
// (data i).  Says "ready" on stdout (a regular file) and idles; on SIGTERM
// checks every count, and that the set reports each eventfd once, and
// prints "OK" or "BAD".
//
//   ckpt_bench_fdhog N [--epoll]
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

namespace {

[[noreturn]] void bad(const char* what) {
  printf("BAD: %s\n", what);
  fflush(stdout);
  exit(1);
}

// N eventfds and the rest need more than the usual 1024.
void raise_nofile(size_t n) {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) bad("getrlimit");
  rlim_t want = rlim_t(n) + 64;
  if (r.rlim_max < want) r.rlim_max = want;  // as root
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0) bad("setrlimit RLIMIT_NOFILE");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bad("usage: ckpt_bench_fdhog N [--epoll]");
  size_t n = strtoul(argv[1], nullptr, 10);
  bool with_epoll = argc > 2 && strcmp(argv[2], "--epoll") == 0;
  raise_nofile(n);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  std::vector<int> fds;
  for (size_t i = 0; i < n; i++) {
    int fd = eventfd(unsigned(i + 1), EFD_NONBLOCK);
    if (fd < 0) bad("eventfd");
    fds.push_back(fd);
  }
  int set = -1;
  if (with_epoll) {
    set = epoll_create1(0);
    if (set < 0) bad("epoll_create1");
    for (size_t i = 0; i < n; i++) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (epoll_ctl(set, EPOLL_CTL_ADD, fds[i], &ev) != 0) bad("epoll_ctl");
    }
  }
  printf("ready\n");
  fflush(stdout);
  int sig;
  sigwait(&term, &sig);
  if (with_epoll) {
    std::vector<bool> seen(n);
    std::vector<epoll_event> evs(1024);
    size_t got = 0;
    while (got < n) {
      int r = epoll_wait(set, evs.data(), int(evs.size()), 1000);
      if (r <= 0) bad("the epoll set reports fewer eventfds than it has");
      for (int i = 0; i < r; i++) {
        uint64_t d = evs[size_t(i)].data.u64;
        if (d >= n || seen[d]) bad("the epoll set reports an unknown or repeated eventfd");
        seen[d] = true;
        got++;
        // Read, so that it is not reported again.
        uint64_t v;
        if (read(fds[d], &v, sizeof(v)) != ssize_t(sizeof(v)) || v != d + 1) bad("an eventfd lost its count");
      }
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      uint64_t v;
      if (read(fds[i], &v, sizeof(v)) != ssize_t(sizeof(v)) || v != i + 1) bad("an eventfd lost its count");
    }
  }
  printf("OK\n");
  fflush(stdout);
  return 0;
}
