// A SIGTRAP pending (blocked) at dump, sigqueue'd to the thread with a
// value: the dump takes no trap (the parasite and its remote syscalls stop
// only in syscall stops), and the restorer queues it again only after its
// own trap.  The restored program checks its SIGTRAP is still pending,
// once, as it was sent, and that its handler is in place.
#include "testlib.h"

#include <sys/syscall.h>

namespace {

volatile sig_atomic_t g_traps = 0;
void on_trap(int) { g_traps = g_traps + 1; }

}  // namespace

int main() {
  struct sigaction sa {};
  sa.sa_handler = on_trap;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGTRAP, &sa, nullptr) == 0, "sigaction SIGTRAP");
  rt::block_signals({SIGTERM, SIGTRAP});
  siginfo_t sent{};
  sent.si_signo = SIGTRAP;
  sent.si_code = SI_QUEUE;
  sent.si_pid = getpid();
  sent.si_uid = getuid();
  sent.si_value.sival_int = 4321;
  RT_CHECK(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGTRAP, &sent) == 0, "queueing SIGTRAP");

  rt::ready();
  rt::wait_term();

  sigset_t trap;
  sigemptyset(&trap);
  sigaddset(&trap, SIGTRAP);
  siginfo_t si{};
  timespec zero{0, 0};
  RT_CHECK(sigtimedwait(&trap, &si, &zero) == SIGTRAP, "the pending SIGTRAP is gone");
  RT_CHECK(si.si_code == SI_QUEUE && si.si_value.sival_int == 4321, "the pending SIGTRAP has si_code %d, value %d",
           si.si_code, si.si_value.sival_int);
  RT_CHECK(sigtimedwait(&trap, &si, &zero) < 0, "a second SIGTRAP is pending");
  struct sigaction now {};
  sigaction(SIGTRAP, nullptr, &now);
  RT_CHECK(now.sa_handler == on_trap, "SIGTRAP's handler is lost");
  rt::pass();
}
