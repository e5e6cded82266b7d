// A pty of the tree that is the controlling terminal of a session whose
// leader has since closed every fd of its slave: restore could not make it
// the controlling terminal again (TIOCSCTTY needs an fd), so the dump is
// refused, naming it.  The program then checks the child still has it.
#include "testlib.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

int main() {
  rt::block_signals({SIGTERM, SIGUSR2});
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  RT_CHECK(master >= 0 && unlockpt(master) == 0, "posix_openpt");
  const char* path = ptsname(master);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    close(master);
    RT_CHECK(setsid() > 0, "setsid");
    int slave = open(path, O_RDWR);
    RT_CHECK(slave >= 0 && ioctl(slave, TIOCSCTTY, 0) == 0, "the controlling terminal");
    close(slave);
    kill(getppid(), SIGUSR2);
    rt::wait_term();
    _exit(0);
  }
  rt::await_signal(SIGUSR2, "the child's terminal");
  rt::ready();
  rt::wait_term();
  pid_t sid = 0;
  RT_CHECK(ioctl(master, TIOCGSID, &sid) == 0 && sid == child, "the pty is not the child's terminal any more");
  kill(child, SIGTERM);
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child");
  rt::pass();
}
