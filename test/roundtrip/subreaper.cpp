// rt_subreaper CMD ARGS...: runs CMD as a child subreaper, so that processes
// orphaned by a shell test (and restored processes that ckpt detaches) are
// reaped here instead of becoming zombies under a PID 1 that does not reap;
// exits with CMD's status once CMD is done, killing whatever it left behind.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rt_subreaper CMD [ARGS...]\n");
    return 2;
  }
  close_range(3, ~0u, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t cmd = fork();
  if (cmd == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0, cmd_status = 1;
  for (;;) {
    pid_t pid = wait(&status);
    if (pid < 0) return 1;
    if (pid == cmd) {
      cmd_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
  }
  // Leftovers of the test, reparented to us, are killed and reaped (bounded:
  // 5 s at most, then we give up on them).
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(), getpid());
  for (int round = 0; round < 500; round++) {
    if (FILE* kids = fopen(path, "r")) {
      int k;
      while (fscanf(kids, "%d", &k) == 1) kill(k, SIGKILL);
      fclose(kids);
    }
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
    if (waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD) break;
    usleep(10000);
  }
  return cmd_status;
}
