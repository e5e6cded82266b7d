// A parent stuck in vfork(2) while its child sleeps (argv[1] ms) before
// exiting: the parent cannot stop for ptrace until then.  Afterwards it
// waits for "exit".
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "target.h"

int main(int argc, char** argv) {
  long ms = argc > 1 ? atol(argv[1]) : 1000;
  target::say("ready");
  pid_t c = vfork();
  if (c == 0) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    syscall(SYS_nanosleep, &ts, nullptr);
    _exit(0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) target::fail("vfork child ended with 0x%x", st);
  std::string cmd = target::read_command();
  return cmd == "exit" ? 0 : 1;
}
