// signalfds across the round trip: their masks and flags, and signals
// pending at dump read through them after the restore.
//
//   sfd      SIGUSR2 and SIGRTMIN+3, O_NONBLOCK; before the dump SIGUSR2 is
//            sent to the process and SIGRTMIN+3 queued with the value 42
//   quiet    SIGWINCH only, blocking, nothing pending
//
// On SIGTERM: the fdinfo masks are what they were; sfd reads SIGUSR2 (from
// our own pid) and SIGRTMIN+3 with 42, then EAGAIN; quiet has nothing.
#include "anonlib.h"

#include <sys/signalfd.h>

namespace {

signalfd_siginfo read_one(int fd) {
  signalfd_siginfo si;
  ssize_t n = read(fd, &si, sizeof(si));
  RT_CHECK(n == ssize_t(sizeof(si)), "read sfd: %s", n < 0 ? strerror(errno) : "short");
  return si;
}

}  // namespace

int main() {
  const int rt_sig = SIGRTMIN + 3;
  rt::block_signals({SIGTERM, SIGUSR2, rt_sig, SIGWINCH});
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  sigaddset(&mask, rt_sig);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  int quiet = signalfd(-1, &winch, 0);
  RT_CHECK(sfd >= 0 && quiet >= 0, "signalfd: %s", strerror(errno));
  std::string sfd_mask = rt::fdinfo_value(sfd, "sigmask"), quiet_mask = rt::fdinfo_value(quiet, "sigmask");
  RT_CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
  sigval val;
  val.sival_int = 42;
  RT_CHECK(sigqueue(getpid(), rt_sig, val) == 0, "sigqueue");
  rt::ready();
  rt::wait_term();

  RT_CHECK(rt::fdinfo_value(sfd, "sigmask") == sfd_mask, "sfd's mask is %s, was %s",
           rt::fdinfo_value(sfd, "sigmask").c_str(), sfd_mask.c_str());
  RT_CHECK(rt::fdinfo_value(quiet, "sigmask") == quiet_mask, "quiet's mask changed");
  RT_CHECK(rt::nonblocking(sfd) && !rt::nonblocking(quiet), "flags changed");
  RT_CHECK(!rt::readable_within(quiet, 0), "quiet has a signal to read");
  // Standard signals first, in number order: SIGUSR2, then the real-time one.
  signalfd_siginfo a = read_one(sfd);
  RT_CHECK(int(a.ssi_signo) == SIGUSR2 && pid_t(a.ssi_pid) == getpid(), "first read: signal %u from %u, want %d from %d",
           a.ssi_signo, a.ssi_pid, SIGUSR2, getpid());
  signalfd_siginfo b = read_one(sfd);
  RT_CHECK(int(b.ssi_signo) == rt_sig && b.ssi_int == 42, "second read: signal %u value %d, want %d value 42",
           b.ssi_signo, b.ssi_int, rt_sig);
  signalfd_siginfo c;
  RT_CHECK(read(sfd, &c, sizeof(c)) < 0 && errno == EAGAIN, "a third signal to read");
  rt::pass();
}
