// The simplest target: waits for SIGTERM in sigtimedwait.
#include "testlib.h"

int main() {
  rt::block_term();
  int pid = getpid();
  rt::ready();
  rt::wait_term();
  RT_CHECK(getpid() == pid, "pid changed from %d to %d", pid, getpid());
  rt::pass();
}
