// Failures: each gives a clear message, and every task of the tree that
// compel touched is released as it was.
#include <grp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

// The message of the compel::Error that fn throws ("" if none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const compel::Error& e) {
    note(e.what());
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

COMPEL_TEST(err_nopid) {
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  std::string msg = error_of([&] { FrozenTree::seize(gone); });
  CHECK(contains(msg, "pid " + std::to_string(gone)) && contains(msg, "no such process"), msg);
  msg = error_of([&] { FrozenTree::seize(-3); });
  CHECK(contains(msg, "not a valid pid"), msg);
}

COMPEL_TEST(err_thread) {
  Target t("threads");
  auto w = t.ready();
  pid_t tid = std::stoi(w.at(0));
  std::string msg = error_of([&] { FrozenTree::seize(tid); });
  CHECK(contains(msg, "is a thread of process " + std::to_string(t.pid())), msg);
  t.send("stop");
  t.expect_success();
}

COMPEL_TEST(err_traced) {
  Target t("family", {"children=2"});
  auto kids = t.ready();
  pid_t c1 = std::stoi(kids[0]), c2 = std::stoi(kids[1]);
  // A "debugger" holding the second child.
  int ready[2], done[2];
  CHECK(pipe(ready) == 0 && pipe(done) == 0);
  pid_t debugger = fork();
  if (debugger == 0) {
    close(ready[0]);
    close(done[1]);
    char ok = ptrace(PTRACE_SEIZE, c2, 0, 0) == 0 ? 'y' : 'n';
    if (write(ready[1], &ok, 1) != 1) _exit(1);
    char c;
    (void)!read(done[0], &c, 1);  // until the driver closes it
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char ok = 0;
  CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y', "the debugger could not seize ", c2);
  std::string msg = error_of([&] { FrozenTree::seize(t.pid()); });
  CHECK(contains(msg, "pid " + std::to_string(c2)) && contains(msg, "already traced by pid " + std::to_string(debugger)),
        msg);
  // Everything else was let go, and runs.
  CHECK(tracer_of(t.pid()) == 0 && tracer_of(c1) == 0, "compel did not release the rest of the tree");
  for (pid_t tid : thread_ids(t.pid())) CHECK(tracer_of(tid) == 0);
  CHECK(tracer_of(c2) == debugger);
  CHECK(wait_until([&] { return proc_state(c1) == 'R'; }, 2000), "child ", c1, " does not run: ", proc_state(c1));
  close(done[1]);
  close(ready[0]);
  waitpid(debugger, nullptr, 0);
  t.send("stop");
  std::string report = t.read_line();
  CHECK(report == "exit " + kids[0] + "=0 " + kids[1] + "=0", report);
  t.expect_success();
}

COMPEL_TEST(err_dies) {
  Target t("family", {"children=2"});
  auto kids = t.ready();
  pid_t c1 = std::stoi(kids[0]), c2 = std::stoi(kids[1]);
  {
    FrozenTree tree = FrozenTree::seize(t.pid());
    {
      Infection inf = Infection::infect(tree, c1);
      inf.process_info();
      // Killed from outside (the OOM killer, say) while commands run.
      std::thread killer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        kill(c1, SIGKILL);
      });
      std::string msg;
      for (int i = 0; i < 200000 && msg.empty(); i++) {
        try {
          inf.process_info();
          inf.syscall(SYS_getpid);
          inf.thread_info();
        } catch (const compel::TaskDied& e) {
          msg = e.what();
        } catch (const compel::Error& e) {
          msg = std::string("not TaskDied: ") + e.what();
        }
      }
      killer.join();
      note(msg);
      CHECK(contains(msg, "died") && contains(msg, std::to_string(c1)) && !contains(msg, "not TaskDied"),
            "no clear death report: ", msg);
      inf.cure();  // nothing left to cure; must not throw
    }
    // The rest of the tree is still usable.
    Infection other = Infection::infect(tree, c2);
    CHECK(other.syscall(SYS_getpid) == c2);
    other.cure();
    tree.release();
  }
  CHECK(tracer_of(t.pid()) == 0 && tracer_of(c2) == 0);
  t.send("stop");
  std::string report = t.read_line();
  CHECK(report == "exit " + kids[0] + "=9 " + kids[1] + "=0", "the root saw ", report);
  t.expect_success();
}

COMPEL_TEST(err_denied) {
  Target t("busy");
  t.ready();
  // An unprivileged dumper may not trace root's processes.
  int msg_pipe[2];
  CHECK(pipe(msg_pipe) == 0);
  pid_t dumper = fork();
  if (dumper == 0) {
    close(msg_pipe[0]);
    std::string msg = "no error";
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      msg = "cannot drop privileges";
    else
      msg = error_of([&] { FrozenTree::seize(t.pid()); });
    (void)!write(msg_pipe[1], msg.data(), msg.size());
    _exit(0);
  }
  close(msg_pipe[1]);
  char buf[1024] = {};
  ssize_t n = 0;
  wait_until([&] {
    ssize_t r = read(msg_pipe[0], buf + n, sizeof(buf) - 1 - static_cast<size_t>(n));
    if (r > 0) n += r;
    return r <= 0;
  }, 5000);
  close(msg_pipe[0]);
  waitpid(dumper, nullptr, 0);
  std::string msg(buf);
  note(msg);
  CHECK(contains(msg, "pid " + std::to_string(t.pid())) && contains(msg, "not permitted"), msg);
  CHECK(tracer_of(t.pid()) == 0);
  t.send("stop");
  t.expect_success();
}

COMPEL_TEST(err_vfork) {
  // The parent waits in vfork(2) for 1.5 s and cannot stop meanwhile.
  Target t("vforker", {"1500"});
  t.ready();
  CHECK(wait_until([&] { return thread_ids(t.pid()).size() == 1 && proc_state(t.pid()) == 'D'; }, 2000),
        "the parent never waits in vfork");
  compel::SeizeOptions opts;
  opts.timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { FrozenTree::seize(t.pid(), opts); });
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(contains(msg, "did not stop within 300 ms"), msg);
  CHECK(took < 5, "seize took ", took, " s to fail");
  // It is let go once it could stop.
  CHECK(wait_until([&] { return tracer_of(t.pid()) == 0; }, 5000), "the vfork parent stays traced");
  t.send("exit");
  t.expect_success();
}
