// A small tree: the root (with a second thread waiting on a condition
// variable) and `children=N` busy children, each with a busy grandchild if
// `grandchildren` is given, and an unreaped zombie child with `zombie`.
// Told "stop", the root stops its children with SIGUSR1, reaps everything
// and reports "exit PID=STATUS ..." on the status fd; it exits 0 itself if
// its own thread was fine.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <string>
#include <vector>

#include "target.h"

static volatile sig_atomic_t stop_flag;
static void on_usr1(int) { stop_flag = 1; }

static bool busy_until_stopped() {
  uint64_t a = 3, b = 3;
  for (uint64_t i = 1; !stop_flag; i++) {
    a = a * 6364136223846793005ULL + 1442695040888963407ULL;
    b = b * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(a));
    asm volatile("" : "+r"(b));
    if (a != b) {
      fprintf(stderr, "FAIL: pid %d: checksum diverged\n", getpid());
      return false;
    }
  }
  return true;
}

static int child_main(bool grandchild) {
  pid_t gc = -1;
  if (grandchild) {
    gc = fork();
    if (gc == 0) _exit(busy_until_stopped() ? 0 : 1);
  }
  bool ok = busy_until_stopped();
  if (gc > 0) {
    kill(gc, SIGUSR1);
    int st = 0;
    waitpid(gc, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "FAIL: grandchild %d ended with status 0x%x\n", gc, st);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool thread_stop, thread_ok = true;

static void* waiter(void*) {
  pthread_mutex_lock(&mu);
  while (!thread_stop) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return nullptr;
}

int main(int argc, char** argv) {
  int nchildren = 2;
  bool grandchildren = false, zombie = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("children=", 0) == 0) nchildren = atoi(a.c_str() + 9);
    if (a == "grandchildren") grandchildren = true;
    if (a == "zombie") zombie = true;
  }
  signal(SIGUSR1, on_usr1);
  std::vector<pid_t> children;
  for (int i = 0; i < nchildren; i++) {
    pid_t c = fork();
    if (c == 0) _exit(child_main(grandchildren));
    children.push_back(c);
  }
  pid_t z = -1;
  if (zombie) {
    z = fork();
    if (z == 0) _exit(7);
    // It is a zombie once it shows as one; wait for that.
    for (int i = 0; i < 1000; i++) {
      siginfo_t si = {};
      if (waitid(P_PID, z, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == z) break;
      usleep(1000);
    }
  }
  pthread_t t;
  pthread_create(&t, nullptr, waiter, nullptr);
  std::string line = "ready";
  for (pid_t c : children) line += " " + std::to_string(c);
  if (zombie) line += " zombie " + std::to_string(z);
  target::say("%s", line.c_str());

  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("read \"%s\"", cmd.c_str());
  std::string report = "exit";
  for (pid_t c : children) {
    kill(c, SIGUSR1);
    int st = 0;
    waitpid(c, &st, 0);
    report += " " + std::to_string(c) + "=" + std::to_string(st);
  }
  if (zombie) {
    int st = 0;
    waitpid(z, &st, 0);
    report += " " + std::to_string(z) + "=" + std::to_string(st);
  }
  pthread_mutex_lock(&mu);
  thread_stop = true;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(t, nullptr);
  target::say("%s", report.c_str());
  return thread_ok ? 0 : 1;
}
