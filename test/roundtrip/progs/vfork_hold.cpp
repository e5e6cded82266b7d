// A target that cannot be frozen for a while: once ready it vforks, and a
// vfork parent takes no ptrace interrupt until its child execs or exits
// (CKPT_TEST_HOLD_S seconds, default 8).  Then it waits for SIGTERM as
// usual.  For dump --timeout: the freeze must give up naming this pid.
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

int main() {
  rt::block_term();
  const char* hold = getenv("CKPT_TEST_HOLD_S");
  unsigned seconds = hold ? unsigned(atoi(hold)) : 8;
  rt::ready();
  pid_t child = vfork();
  if (child == 0) {
    // Only what vfork allows: a sleep, then _exit.
    struct timespec t = {time_t(seconds), 0};
    nanosleep(&t, nullptr);
    _exit(0);
  }
  RT_CHECK(child > 0, "vfork failed");
  rt::wait_term();
  rt::pass();
}
