// A stopped child in a running tree: the parent runs, its child (its own
// process group, so that SIGTSTP is not discarded, and two threads) was
// stopped by SIGTSTP, the parent saw it stop (waitpid WUNTRACED).  After
// the restore the parent checks, on SIGTERM, that the child is stopped
// (every thread in state T, untraced), that a stop reported to it again
// says SIGTSTP, continues it (SIGCONT, seen with WCONTINUED), and ends it:
// the child's verdict is that exactly one SIGCONT reached it.
#include "mtlib.h"

#include <pthread.h>
#include <sys/wait.h>

namespace {

volatile sig_atomic_t g_conts = 0;
void on_cont(int) { g_conts = g_conts + 1; }

rt::Echo g_echo;

[[noreturn]] void child_main() {
  struct sigaction sa {};
  sa.sa_handler = on_cont;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGCONT, &sa, nullptr) == 0, "child: sigaction SIGCONT");
  pthread_t th;
  RT_CHECK(pthread_create(&th, nullptr, rt::Echo::run, &g_echo) == 0, "child: pthread_create");
  RT_CHECK(kill(getppid(), SIGUSR1) == 0, "child: cannot signal its parent");
  rt::await_signal(SIGTERM, "SIGTERM from the parent", rt::kWaitLimitSeconds);
  RT_CHECK(g_conts == 1, "child: SIGCONT's handler ran %d times (want 1)", int(g_conts));
  RT_CHECK(g_echo.answers(1, 30), "child: its worker does not answer");
  _exit(0);
}

// Every task of pid stopped ('T') and untraced.
void expect_stopped(pid_t pid) {
  std::vector<pid_t> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  RT_CHECK(d, "the child %d is gone", pid);
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.push_back(atoi(e->d_name));
  closedir(d);
  RT_CHECK(tids.size() == 2, "the child has %zu threads, not 2", tids.size());
  for (pid_t tid : tids) {
    char state = rt::task_state(tid, pid);
    RT_CHECK(state == 'T', "thread %d of the child is in state %c, not T (stopped)", tid, state);
    std::string tracer = rt::status_field_of(dir + "/" + std::to_string(tid) + "/status", "TracerPid");
    RT_CHECK(tracer == "0", "thread %d of the child has TracerPid %s", tid, tracer.c_str());
  }
}

// waitpid(pid, flags | WNOHANG) until it reports, bounded.
int await_report(pid_t pid, int flags, const char* what) {
  double deadline = rt::now_seconds() + 30;
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, flags | WNOHANG);
    if (r == pid) return status;
    RT_CHECK(r == 0, "waitpid(%d) for %s: %s", pid, what, strerror(errno));
    RT_CHECK(rt::now_seconds() < deadline, "the child's %s was not reported within 30 s", what);
    usleep(10000);
  }
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1});
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    setpgid(0, 0);
    child_main();
  }
  setpgid(child, child);
  rt::await_signal(SIGUSR1, "the child's SIGUSR1");
  RT_CHECK(kill(child, SIGTSTP) == 0, "SIGTSTP to the child");
  int status = await_report(child, WUNTRACED, "stop");
  RT_CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP, "the child did not stop by SIGTSTP (status %#x)", status);

  rt::ready();
  rt::wait_term();

  expect_stopped(child);
  // The restore stops it anew: its parent may be told again, by SIGTSTP.
  int again;
  if (waitpid(child, &again, WUNTRACED | WNOHANG) == child)
    RT_CHECK(WIFSTOPPED(again) && WSTOPSIG(again) == SIGTSTP, "the child's stop is reported as %#x", again);
  RT_CHECK(kill(child, SIGCONT) == 0, "SIGCONT to the child");
  status = await_report(child, WCONTINUED, "continue");
  RT_CHECK(WIFCONTINUED(status), "the child reported %#x instead of continuing", status);
  RT_CHECK(kill(child, SIGTERM) == 0, "SIGTERM to the child");
  status = await_report(child, 0, "exit");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %#x)", status);
  rt::pass();
}
