// SIGTRAP ignored (SIG_IGN) at dump: the trap the restorer ends in resets
// an ignored SIGTRAP to SIG_DFL, and the restorer sets the dumped action
// again after it; the dump itself takes no trap.  The restored program
// checks SIGTRAP is still ignored and that raising it does nothing.
#include "testlib.h"

int main() {
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  RT_CHECK(sigaction(SIGTRAP, &ign, nullptr) == 0, "ignoring SIGTRAP");
  rt::block_signals({SIGTERM});
  rt::ready();
  rt::wait_term();
  struct sigaction now {};
  RT_CHECK(sigaction(SIGTRAP, nullptr, &now) == 0 && now.sa_handler == SIG_IGN, "SIGTRAP is no longer ignored");
  raise(SIGTRAP);  // ignored: nothing happens
  rt::pass();
}
