// PR_SET_CHILD_SUBREAPER across the round trip, set while the process
// already has a child, and with an orphan it adopted:
//   P    the subreaper (the test's root), set after creating C1 and C2
//   C1   its child from before the prctl
//   C2   a child that creates G and exits: G, orphaned, is adopted by P
// After the restore P checks PR_GET_CHILD_SUBREAPER; G checks P is still its
// parent, and P can wait for it; then C1 creates G2 and exits: G2 must be
// adopted by P (not by the driver, the next subreaper up), which only
// happens if P is a subreaper again and C1 knows it has one above.
// (test/roundtrip/subreaper.cpp is the driver's helper, not this test.)
#include "mtlib.h"

#include <sys/mman.h>
#include <sys/prctl.h>

namespace {

struct Shared {
  std::atomic<int> c2_go{0};
  std::atomic<pid_t> g{0};
  std::atomic<int> g_adopted{0};
  std::atomic<pid_t> g2{0};
};
Shared* g_shared;
pid_t g_parent;

bool adopted_within(double seconds) {
  return rt::poll_until([] { return getppid() == g_parent; }, seconds);
}

// A grandchild: waits to be P's, tells, and at SIGTERM checks it still is.
[[noreturn]] void run_g() {
  g_shared->g = getpid();
  if (!adopted_within(30)) _exit(3);
  rt::store_wake(g_shared->g_adopted, 1, true);
  rt::await_signal(SIGTERM, "SIGTERM in G", rt::kWaitLimitSeconds);
  _exit(getppid() == g_parent ? 0 : 4);
}

[[noreturn]] void run_c2() {
  if (!rt::await_at_least(g_shared->c2_go, 1, 30, true)) _exit(5);
  pid_t g = fork();
  if (g == 0) run_g();
  _exit(g > 0 ? 0 : 6);
}

// After the restore: creates G2, which must be adopted by P, and exits.
[[noreturn]] void run_c1() {
  rt::await_signal(SIGTERM, "SIGTERM in C1", rt::kWaitLimitSeconds);
  pid_t g2 = fork();
  if (g2 == 0) _exit(adopted_within(10) ? 0 : 3);
  g_shared->g2 = g2;
  _exit(g2 > 0 ? 0 : 6);
}

// waitpid with a deadline: the status, or -1 (and the errno) if none came.
int reap(pid_t pid, double seconds, int* err) {
  int status = -1;
  *err = 0;
  bool done = rt::poll_until(
      [&] {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r < 0) *err = errno;
        return r == pid || r < 0;
      },
      seconds);
  if (!done) *err = ETIMEDOUT;
  return *err ? -1 : status;
}

void expect_exit0(rt::Verdict& v, const char* who, pid_t pid) {
  int err;
  int st = reap(pid, 20, &err);
  if (st < 0) v.add("cannot wait for %s (pid %d): %s", who, pid, strerror(err));
  else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) v.add("%s (pid %d) ended with status %#x", who, pid, st);
}

}  // namespace

int main() {
  rt::block_term();
  g_parent = getpid();
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(mem != MAP_FAILED, "mmap: %s", strerror(errno));
  g_shared = new (mem) Shared;

  pid_t c1 = fork();
  if (c1 == 0) run_c1();
  pid_t c2 = fork();
  if (c2 == 0) run_c2();
  RT_CHECK(c1 > 0 && c2 > 0, "fork: %s", strerror(errno));
  RT_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  rt::store_wake(g_shared->c2_go, 1, true);
  int err;
  int st = reap(c2, 30, &err);
  RT_CHECK(st == 0, "C2 ended with %#x (%s)", st, strerror(err));
  RT_CHECK(rt::await_at_least(g_shared->g_adopted, 1, 30, true), "G was not adopted by the subreaper");
  pid_t g = g_shared->g;

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  int sub = -1;
  prctl(PR_GET_CHILD_SUBREAPER, &sub);
  if (sub != 1) v.add("PR_GET_CHILD_SUBREAPER is %d, want 1", sub);
  kill(g, SIGTERM);
  expect_exit0(v, "the adopted G", g);
  kill(c1, SIGTERM);
  expect_exit0(v, "C1", c1);
  pid_t g2 = g_shared->g2;
  if (!g2) v.add("C1 created no G2");
  else expect_exit0(v, "G2, orphaned by C1 after the restore", g2);
  v.finish();
}
