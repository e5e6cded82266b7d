// A process with a known set of the things the parasite reports: signal
// actions, an interval timer, a POSIX timer, umask, personality, parent
// death signal, a pending blocked signal, an open file, and a buffer of
// patterned memory.  It waits in read(2); told "exit", it checks that all of
// it is still as it set it up.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <cstdint>

#include "target.h"


static void on_signal(int, siginfo_t*, void*) {}

static uint8_t pattern(size_t off) { return static_cast<uint8_t>((off >> 12) * 31 + (off & 4095) * 7); }

int main(int argc, char** argv) {
  // The patterned buffer: 6 MiB unless argv[1] gives another size in MiB.
  const size_t kBufSize = (argc > 1 ? static_cast<size_t>(atol(argv[1])) : 6) << 20;
  struct sigaction sa = {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGALRM, &sa, nullptr);
  signal(SIGUSR2, SIG_IGN);

  struct itimerval it = {{100, 0}, {200, 0}};
  setitimer(ITIMER_REAL, &it, nullptr);

  struct sigevent sev = {};
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGRTMIN + 2;
  sev.sigev_value.sival_ptr = reinterpret_cast<void*>(0x1234);
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) target::fail("timer_create: %s", strerror(errno));
  struct itimerspec its = {{7, 0}, {300, 0}};
  timer_settime(timer, 0, &its, nullptr);

  umask(027);
  personality(static_cast<unsigned long>(PER_LINUX) | UNAME26);
  prctl(PR_SET_PDEATHSIG, SIGHUP);

  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGWINCH);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  raise(SIGWINCH);  // stays pending

  int fd = memfd_create("compel-fd-test", 0);
  if (write(fd, "compel-fd-test", 14) != 14) target::fail("write to memfd");

  auto* buf = static_cast<uint8_t*>(mmap(nullptr, kBufSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (size_t i = 0; i < kBufSize; i++) buf[i] = pattern(i);

  target::say("ready %p %zu %d", static_cast<void*>(buf), kBufSize, fd);
  for (;;) {
    std::string cmd = target::read_command();
    if (cmd == "exit") break;
  }

  mode_t m = umask(0);
  if (m != 027) target::fail("umask is %o", m);
  if ((personality(0xffffffff) & UNAME26) == 0) target::fail("personality lost UNAME26");
  sigset_t pending;
  sigpending(&pending);
  if (!sigismember(&pending, SIGWINCH)) target::fail("SIGWINCH is no longer pending");
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  if (!sigismember(&now, SIGWINCH) || sigismember(&now, SIGUSR1)) target::fail("signal mask changed");
  timer_gettime(timer, &its);
  if (its.it_interval.tv_sec != 7 || its.it_value.tv_sec == 0) target::fail("POSIX timer changed");
  getitimer(ITIMER_REAL, &it);
  if (it.it_interval.tv_sec != 100 || it.it_value.tv_sec == 0) target::fail("itimer changed");
  struct sigaction now_sa;
  sigaction(SIGUSR1, nullptr, &now_sa);
  if (now_sa.sa_sigaction != on_signal) target::fail("SIGUSR1 action changed");
  for (size_t i = 0; i < kBufSize; i += 4093)
    if (buf[i] != pattern(i)) target::fail("memory changed at offset %zu", i);
  char text[32] = {};
  if (pread(fd, text, sizeof(text), 0) != 14 || strcmp(text, "compel-fd-test") != 0) target::fail("memfd changed");
  return 0;
}
