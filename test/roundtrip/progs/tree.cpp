// A process tree across the round trip: a parent with two live children and
// two zombies.
//
//   parent (root, session leader)
//   ├── A   same process group, writes through the shared description
//   ├── B   its own process group, writes through the shared description
//   ├── Z1  zombie: exit(42)
//   └── Z2  zombie: killed by SIGTERM
//
// One file description (tree-shared.txt) is shared by all three, so they
// share one offset: before the dump P, A and B write "P", "A", "B" in turn
// (handshakes by signals, no pipe).  On SIGTERM the parent checks its
// children are alive and its own (pid, ppid, groups, session), reaps the
// zombies with their statuses, writes "Q", then asks A and then B (SIGUSR2)
// to check themselves and write "a"/"b" and exit; their exit statuses and
// the file ("PABQab", written at one advancing offset) are the verdict.  A
// restore that gave each process its own description would leave "PABa..".
#include "testlib.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <string>

namespace {

const char* const kShared = "tree-shared.txt";

sigset_t handshake_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits (bounded) for `sig` from `from` (0: anyone).
void await_signal(int sig, pid_t from, const char* what) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  double deadline = rt::now_seconds() + 60;
  for (;;) {
    double left = deadline - rt::now_seconds();
    RT_CHECK(left > 0, "pid %d: no %s within 60 s", getpid(), what);
    timespec ts{time_t(left) + 1, 0};
    siginfo_t si;
    if (sigtimedwait(&one, &si, &ts) == sig && (from == 0 || si.si_pid == from)) return;
  }
}

// Waits (bounded) for child `pid` to end and returns its wait status.
int await_child(pid_t pid) {
  double deadline = rt::now_seconds() + 60;
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    RT_CHECK(r == 0, "waitpid(%d): %s", pid, strerror(errno));
    double left = deadline - rt::now_seconds();
    RT_CHECK(left > 0, "child %d did not end within 60 s", pid);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    timespec ts{0, 50 * 1000 * 1000};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

std::string file_content() {
  int fd = open(kShared, O_RDONLY);
  RT_CHECK(fd >= 0, "reopen %s", kShared);
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return std::string(buf, n > 0 ? size_t(n) : 0);
}

// /proc/PID/stat: state and ppid.
bool stat_of(pid_t pid, char* state, pid_t* ppid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = fopen(path, "r");
  if (!f) return false;
  char buf[512];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  char* close_paren = strrchr(buf, ')');
  return close_paren && sscanf(close_paren + 2, "%c %d", state, ppid) == 2;
}

// A live child: writes its letter, says so, waits for the word to check
// itself, writes its second letter through the shared offset and exits
// with 0 if all is well.
[[noreturn]] void live_child(int shared, pid_t parent, bool own_group, char first, char prev, char second) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // restored with the rest
  if (own_group) setpgid(0, 0);
  RT_CHECK(write(shared, &first, 1) == 1, "child write");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: cannot signal the parent");
  await_signal(SIGUSR2, parent, "word from the parent");
  RT_CHECK(getppid() == parent, "child %d: ppid %d, want %d", getpid(), getppid(), parent);
  if (own_group) RT_CHECK(getpgrp() == getpid(), "child %d: group %d, want its own", getpid(), getpgrp());
  else RT_CHECK(getpgrp() == getpgid(parent), "child %d: group %d, want its parent's", getpid(), getpgrp());
  RT_CHECK(getsid(0) == getsid(parent), "child %d: session %d, want %d", getpid(), getsid(0), getsid(parent));
  int pdeath = -1;
  prctl(PR_GET_PDEATHSIG, &pdeath);
  RT_CHECK(pdeath == SIGKILL, "child %d: parent-death signal %d", getpid(), pdeath);
  RT_CHECK(write(shared, &second, 1) == 1, "child second write");
  // Just before our letter: the one written last through the shared
  // offset (by the parent, or by A).
  off_t at = lseek(shared, 0, SEEK_CUR);
  char before[2] = {0, 0};
  RT_CHECK(at >= 2 && pread(shared, before, 2, at - 2) == 2, "child %d: pread at %ld", getpid(), long(at));
  RT_CHECK(before[0] == prev && before[1] == second,
           "child %d: '%c%c' before offset %ld, want '%c%c': the description is not shared", getpid(), before[0],
           before[1], long(at), prev, second);
  fflush(stdout);
  _exit(0);
}

void check_child(pid_t child, bool own_group) {
  char state;
  pid_t ppid;
  RT_CHECK(stat_of(child, &state, &ppid), "child %d is gone", child);
  RT_CHECK(state != 'Z' && state != 'X', "child %d is a zombie", child);
  RT_CHECK(ppid == getpid(), "child %d has ppid %d, want %d", child, ppid, getpid());
  pid_t want = own_group ? child : getpgrp();
  RT_CHECK(getpgid(child) == want, "child %d is in group %d, want %d", child, getpgid(child), want);
}

}  // namespace

int main() {
  sigset_t set = handshake_signals();
  RT_CHECK(sigprocmask(SIG_BLOCK, &set, nullptr) == 0, "sigprocmask");
  int shared = open(kShared, O_RDWR | O_CREAT | O_TRUNC, 0644);
  RT_CHECK(shared >= 0, "open %s", kShared);
  RT_CHECK(write(shared, "P", 1) == 1, "parent write");
  pid_t me = getpid();
  fflush(stdout);

  pid_t a = fork();
  if (a == 0) live_child(shared, me, false, 'A', 'Q', 'a');
  await_signal(SIGUSR1, a, "ready from A");
  pid_t b = fork();
  if (b == 0) live_child(shared, me, true, 'B', 'a', 'b');
  setpgid(b, b);
  await_signal(SIGUSR1, b, "ready from B");

  pid_t z1 = fork();
  if (z1 == 0) {
    prctl(PR_SET_NAME, "zombie-42");
    _exit(42);
  }
  pid_t z2 = fork();
  if (z2 == 0) {
    signal(SIGTERM, SIG_DFL);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &term, nullptr);
    kill(getpid(), SIGTERM);
    _exit(99);
  }
  // Zombies, not reaped: WNOWAIT.
  siginfo_t si;
  RT_CHECK(waitid(P_PID, id_t(z1), &si, WEXITED | WNOWAIT) == 0, "waitid z1");
  RT_CHECK(waitid(P_PID, id_t(z2), &si, WEXITED | WNOWAIT) == 0, "waitid z2");

  rt::ready();
  rt::wait_term();

  check_child(a, false);
  check_child(b, true);
  char state;
  pid_t ppid;
  RT_CHECK(stat_of(z1, &state, &ppid) && state == 'Z' && ppid == me, "pid %d is not our zombie", z1);
  RT_CHECK(stat_of(z2, &state, &ppid) && state == 'Z' && ppid == me, "pid %d is not our zombie", z2);
  char comm[32] = {};
  FILE* f = fopen(("/proc/" + std::to_string(z1) + "/comm").c_str(), "r");
  RT_CHECK(f && fgets(comm, sizeof(comm), f), "cannot read the name of zombie %d", z1);
  fclose(f);
  RT_CHECK(strcmp(comm, "zombie-42\n") == 0, "zombie %d is called '%s', want 'zombie-42'", z1, comm);
  int st;
  RT_CHECK(waitpid(z1, &st, WNOHANG) == z1, "zombie %d cannot be reaped at once", z1);
  RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "zombie %d: status 0x%x, want exit 42", z1, st);
  RT_CHECK(waitpid(z2, &st, WNOHANG) == z2, "zombie %d cannot be reaped at once", z2);
  RT_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "zombie %d: status 0x%x, want SIGTERM", z2, st);

  RT_CHECK(write(shared, "Q", 1) == 1, "parent second write");
  RT_CHECK(kill(a, SIGUSR2) == 0, "signal A");
  st = await_child(a);
  RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child A ended with status 0x%x", st);
  RT_CHECK(kill(b, SIGUSR2) == 0, "signal B");
  st = await_child(b);
  RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child B ended with status 0x%x", st);

  std::string content = file_content();
  RT_CHECK(content == "PABQab", "%s holds '%s', want 'PABQab' (one offset for the tree)", kShared, content.c_str());
  RT_CHECK(lseek(shared, 0, SEEK_CUR) == 6, "parent offset %ld, want 6", long(lseek(shared, 0, SEEK_CUR)));
  RT_CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "children left");
  rt::pass();
}
