// A listening socket shared by a parent and its child (inherited across
// fork, as web servers' workers do): one description after the restore
// (kcmp), O_NONBLOCK set by the child seen by the parent, and the child
// accepts the connection the parent makes.
#include "inetlib.h"

#include <linux/kcmp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

using namespace rt::inet;

int main() {
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  RT_CHECK(l >= 0, "socket");
  setopt_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
  bind_to(l, AF_INET6, "::", 8300);
  RT_CHECK(listen(l, 10) == 0, "listen");

  rt::block_signals({SIGTERM, SIGUSR1});
  pid_t parent = getpid();
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    // (Not left behind if the parent fails.)
    RT_CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() == parent, "PR_SET_PDEATHSIG");
    RT_CHECK(fcntl(l, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
    RT_CHECK(kill(parent, SIGUSR1) == 0, "cannot tell the parent");
    rt::wait_term();
    // The parent connected before it signalled us.
    fcntl(l, F_SETFL, 0);
    int a = accept(l, nullptr, nullptr);
    if (a < 0) _exit(2);
    char c = 0;
    if (read(a, &c, 1) != 1 || c != 'p') _exit(3);
    _exit(0);
  }
  // Ready once the child is (the driver takes the root's word only).
  rt::await_signal(SIGUSR1, "word from the child");
  rt::ready();
  rt::wait_term();
  RT_CHECK(syscall(SYS_kcmp, getpid(), child, KCMP_FILE, l, l) == 0, "parent and child no longer share the listener");
  RT_CHECK(fcntl(l, F_GETFL) & O_NONBLOCK, "the child's O_NONBLOCK is not the parent's");
  RT_CHECK(local_of(l) == ":::8300" && tcp_state(l) == TCP_LISTEN, "listener at %s", local_of(l).c_str());
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect_to(c, AF_INET, "127.0.0.1", 8300);
  RT_CHECK(write(c, "p", 1) == 1, "write");
  RT_CHECK(kill(child, SIGTERM) == 0, "kill child");
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %d)", status);
  close(c);
  rt::pass();
}
