// The round-trip driver: starts a self-checking test program, dumps it with
// ckpt, makes sure it is gone, restores it, signals it and reads its verdict.
//
//   rt_driver --ckpt PATH --prog PATH [--mode MODE] [--workdir DIR]
//
// Modes:
//   baseline       no ckpt at all: the program must pass on its own
//   plain          dump (kills), restore -d, SIGTERM, verdict
//   leave-running  dump --leave-running; the original must run on and pass
//                  its own check; it is then killed and restored
//   twice          two restores from one image set, each must pass
//   redump         restore, dump the restored process again, restore that
//   attached       restore without -d: ckpt stays the parent and exits with
//                  the restored process's status
//   pid-taken      restore while the original still runs: restore must fail,
//                  name the holder of the pid, and leave no process behind
//   fail-cleanup   a restore whose root fails once its children exist
//                  (CKPT_RESTORE_TEST_FAIL): it must name the root, leave no
//                  process or zombie behind, and a restore after it passes
//   stopped        no ckpt: the program is stopped (SIGSTOP) for 5 s between
//                  ready and SIGTERM, as a dump may freeze it; it must pass
//   churn          30 dumps --leave-running in a row, each leaving the
//                  process running, none of its tasks stopped or traced;
//                  then a plain dump, restore -d, verdict
//   stopped-dump   the program is stopped (SIGSTOP) before the dump, which
//                  kills it; after restore -d it must be stopped again (every
//                  task in state T, none traced, the stop reported to its
//                  parent by waitpid WUNTRACED), continue on SIGCONT (reported
//                  with WCONTINUED), and then give its verdict on SIGTERM
//   stopped-leave-running  the same around a dump --leave-running: the
//                  original must stay stopped, continue and pass; then the
//                  restored one the same way
//   refused        the dump must fail, its error name the pid and hold every
//                  --expect TEXT; the program must run on untouched (not
//                  stopped, not traced) and pass its own check; no images
//   restore-refused  dump (kills), then the restore must fail, its error
//                  hold every --expect TEXT, and leave no process behind
//   twice-refused  dump (kills), restore -d, verdict; then a second restore
//                  of the same images must fail as restore-refused (images
//                  that restore once: dump --link-remap's)
//
// --dump-arg ARG (repeatable) is added to every dump, --restore-arg ARG
// (repeatable) to every restore.
// Every mode also compares what /proc says about the whole tree (every
// process and thread) before the dump and after each restore, or whatever
// should be unchanged in that mode (proc_snapshot.h); any difference but
// the legitimate ones fails.  --snapshot-skip PATTERN (repeatable) leaves
// out matching fields for one test (say why where the test is registered).
// --before-restore CMD is run (sh -c, in the work dir) before each restore,
// and must succeed; --cleanup CMD (sh -c, in the work dir) when the driver
// ends, after the test's processes are gone, whatever the outcome (for
// tests that make objects outside the work dir, such as cgroups).
// The driver is a child subreaper, so a process restored with -d becomes its
// child and its exit status is the verdict.  Every wait is bounded.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "proc_snapshot.h"

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void failf(const std::string& msg) { throw Failure(msg); }

struct Config {
  std::string ckpt, prog, mode = "plain", workdir;
  std::vector<std::string> dump_args;  // --dump-arg, added to every dump
  std::vector<std::string> restore_args;  // --restore-arg, added to every restore
  std::vector<std::string> expect;     // --expect, in the refused dump's (or restore's) error
  std::vector<std::string> snapshot_skip;  // --snapshot-skip, fields this test leaves out
  std::string before_restore, cleanup;  // --before-restore, --cleanup
};

double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Waits for one child with a deadline, sleeping in sigtimedwait on SIGCHLD
// (blocked in main) rather than polling.
bool wait_child(pid_t pid, double seconds, int* status) {
  double deadline = now() + seconds;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0) failf("waitpid(" + std::to_string(pid) + "): " + strerror(errno));
    double left = deadline - now();
    if (left <= 0) return false;
    timespec ts{time_t(left), long((left - double(time_t(left))) * 1e9)};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

// The tids of /proc/PID/task (empty once the process is gone).
std::vector<std::string> tasks_of(pid_t pid) {
  std::vector<std::string> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return tids;
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.push_back(e->d_name);
  closedir(d);
  return tids;
}

// A process runs while any of its tasks does: a main thread that called
// pthread_exit is a zombie task of a live process.
bool alive(pid_t pid) {
  for (const std::string& tid : tasks_of(pid)) {
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/task/" + tid + "/stat");
    size_t p = stat.rfind(')');
    if (p != std::string::npos && p + 2 < stat.size() && stat[p + 2] != 'Z' && stat[p + 2] != 'X') return true;
  }
  return false;
}

// After a dump --leave-running: the process runs on, and none of its tasks
// is stopped ('T'), in a tracing stop ('t') or still traced.
void expect_running(pid_t pid, const std::string& when) {
  if (!alive(pid)) failf(when + ": pid " + std::to_string(pid) + " is gone");
  for (const std::string& tid : tasks_of(pid)) {
    std::string status = slurp("/proc/" + std::to_string(pid) + "/task/" + tid + "/status");
    if (status.empty()) continue;  // a thread that just ended
    size_t st = status.find("\nState:\t");
    size_t tr = status.find("\nTracerPid:\t");
    char state = st == std::string::npos ? '?' : status[st + 8];
    long tracer = tr == std::string::npos ? -1 : std::atol(status.c_str() + tr + 12);
    if (state == 'T' || state == 't')
      failf(when + ": task " + tid + " of pid " + std::to_string(pid) + " is stopped (State " + state + ")");
    if (tracer != 0)
      failf(when + ": task " + tid + " of pid " + std::to_string(pid) + " has TracerPid " + std::to_string(tracer));
  }
}

class Driver {
 public:
  explicit Driver(Config c) : cfg_(std::move(c)) {
    out_ = cfg_.workdir + "/out.txt";
  }
  ~Driver() {
    kill_leftovers();
    try {
      if (!cfg_.cleanup.empty() && !shell(cfg_.cleanup, "--cleanup")) printf("(--cleanup failed)\n");
    } catch (const Failure& f) {
      printf("(--cleanup failed: %s)\n", f.what());
    }
  }

  void run() {
    const std::string& m = cfg_.mode;
    if (m == "baseline") baseline();
    else if (m == "plain") plain();
    else if (m == "leave-running") leave_running();
    else if (m == "twice") twice();
    else if (m == "redump") redump();
    else if (m == "attached") attached();
    else if (m == "pid-taken") pid_taken();
    else if (m == "fail-cleanup") fail_cleanup();
    else if (m == "churn") churn();
    else if (m == "stopped") stopped();
    else if (m == "stopped-dump") stopped_dump(false);
    else if (m == "stopped-leave-running") stopped_dump(true);
    else if (m == "refused") refused();
    else if (m == "restore-refused") restore_refused();
    else if (m == "twice-refused") twice_refused();
    else failf("unknown mode " + m);
  }

 private:
  Config cfg_;
  std::string out_;
  std::vector<pid_t> started_;
  int ckpt_runs_ = 0;

  // Without ckpt the snapshot must not change either: a check of the
  // snapshot's legitimate-change list itself.
  void baseline() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    expect_same_as_first(pid, "later, without ckpt");
    verdict(pid);
  }

  void plain() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the restore");
    verdict(pid);
  }

  void leave_running() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {"--leave-running"});
    expect_running(pid, "after the dump --leave-running");
    expect_same_as_first(pid, "the original after the dump --leave-running");
    verdict(pid);  // the original passes its own check: the dump left it intact
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the restore");
    verdict(pid);
  }

  void stopped() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    kill(pid, SIGSTOP);
    auto all_stopped = [&] {
      for (const std::string& tid : tasks_of(pid)) {
        std::string st = slurp("/proc/" + std::to_string(pid) + "/task/" + tid + "/stat");
        size_t p = st.rfind(')');
        if (p == std::string::npos || p + 2 >= st.size() || (st[p + 2] != 'T' && st[p + 2] != 'Z')) return false;
      }
      return true;
    };
    double deadline = now() + 30;
    while (!all_stopped()) {
      if (now() > deadline) failf("pid " + std::to_string(pid) + " did not stop within 30 s");
      usleep(10000);
    }
    sleep(5);  // the point: frozen for a while
    kill(pid, SIGCONT);
    expect_same_as_first(pid, "after SIGSTOP and SIGCONT");
    verdict(pid);
  }

  // The pidfile is written while ckpt still holds every thread (its last
  // step before it lets the tree go): waits, bounded, until no task of pid
  // is traced any more.
  void await_untraced(pid_t pid, const std::string& when) {
    double deadline = now() + 30;
    for (;;) {
      std::string traced;
      for (const std::string& tid : tasks_of(pid)) {
        std::string status = slurp("/proc/" + std::to_string(pid) + "/task/" + tid + "/status");
        size_t tr = status.find("\nTracerPid:\t");
        if (tr != std::string::npos && std::atol(status.c_str() + tr + 12) != 0) traced = tid;
      }
      if (traced.empty()) return;
      if (now() > deadline) failf(when + ": task " + traced + " of pid " + std::to_string(pid) + " is still traced after 30 s");
      usleep(10000);
    }
  }

  // --- stopped processes (stopped-dump, stopped-leave-running) -----------

  // Every task of pid in state T (a job-control stop, not a tracing stop
  // 't'), none traced.
  bool stopped_untraced(pid_t pid, std::string* why) {
    std::vector<std::string> tids = tasks_of(pid);
    if (tids.empty()) return *why = "it is gone", false;
    for (const std::string& tid : tids) {
      std::string status = slurp("/proc/" + std::to_string(pid) + "/task/" + tid + "/status");
      size_t st = status.find("\nState:\t");
      size_t tr = status.find("\nTracerPid:\t");
      if (st == std::string::npos || tr == std::string::npos) continue;  // a thread that just ended
      char state = status[st + 8];
      long tracer = std::atol(status.c_str() + tr + 12);
      if (state != 'T' || tracer != 0)
        return *why = "task " + tid + " is in state " + state + " with TracerPid " + std::to_string(tracer), false;
    }
    return true;
  }

  // Waits (bounded) for waitpid(pid, `flags` | WNOHANG) to report it; its
  // status.  A stop of a restored process may have been sent to ckpt, its
  // parent then: short sleeps, not just SIGCHLD.
  int await_report(pid_t pid, int flags, const std::string& what) {
    double deadline = now() + 30;
    for (;;) {
      int status;
      pid_t r = waitpid(pid, &status, flags | WNOHANG);
      if (r == pid) return status;
      if (r < 0) failf("waitpid(" + std::to_string(pid) + ") for " + what + ": " + strerror(errno));
      if (now() > deadline) failf("pid " + std::to_string(pid) + ": no " + what + " reported within 30 s");
      sigset_t chld;
      sigemptyset(&chld);
      sigaddset(&chld, SIGCHLD);
      timespec ts{0, 20 * 1000 * 1000};
      sigtimedwait(&chld, nullptr, &ts);
    }
  }

  // Stops pid with SIGSTOP and waits until its parent (us) sees it stopped.
  void stop_target(pid_t pid) {
    kill(pid, SIGSTOP);
    int status = await_report(pid, WUNTRACED, "stop");
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
      failf("pid " + std::to_string(pid) + " " + describe_status(status) + " instead of stopping");
    std::string why;
    double deadline = now() + 30;
    while (!stopped_untraced(pid, &why)) {  // each thread takes part in the stop
      if (now() > deadline) failf("pid " + std::to_string(pid) + " did not stop: " + why);
      usleep(10000);
    }
  }

  // The stopped pid (restored or left by the dump): stopped, untraced, its
  // stop reported to us if `reported`; then SIGCONT, reported as continued,
  // and the verdict.
  void continue_stopped(pid_t pid, bool reported, const std::string& when) {
    std::string why;
    if (!stopped_untraced(pid, &why)) failf(when + ": pid " + std::to_string(pid) + " is not stopped: " + why);
    if (reported) {
      int status = await_report(pid, WUNTRACED, "stop");
      if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
        failf(when + ": pid " + std::to_string(pid) + " " + describe_status(status) + " (want stopped by SIGSTOP)");
    }
    if (kill(pid, SIGCONT) != 0) failf("cannot SIGCONT pid " + std::to_string(pid));
    int status = await_report(pid, WCONTINUED, "continue");
    if (!WIFCONTINUED(status)) failf(when + ": pid " + std::to_string(pid) + " " + describe_status(status));
    printf("%s: pid %d was stopped, and continued on SIGCONT\n", when.c_str(), pid);
    verdict(pid);
  }

  void stopped_dump(bool leave_running) {
    pid_t pid = start_target();
    stop_target(pid);
    take_first_snapshot(pid);
    if (leave_running) {
      dump(pid, "img", {"--leave-running"});
      expect_same_as_first(pid, "the original after the dump --leave-running");
      // The stop we collected before the dump is not reported again.
      continue_stopped(pid, false, "after the dump --leave-running");
    } else {
      dump(pid, "img", {});
      expect_gone(pid);
    }
    restore_detached("img", pid, true);
    expect_same_as_first(pid, "after the restore");
    continue_stopped(pid, true, "after the restore");
  }

  // A process that keeps creating and ending threads, dumped again and
  // again while it runs; then for real.
  void churn() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    for (int i = 1; i <= 30; i++) {
      std::string dir = "churn-" + std::to_string(i);
      dump(pid, dir, {"--leave-running"});
      expect_running(pid, "after dump --leave-running " + std::to_string(i));
      expect_same_as_first(pid, "the original after dump --leave-running " + std::to_string(i));
      std::filesystem::remove_all(cfg_.workdir + "/" + dir);
    }
    dump(pid, "img", {});
    expect_gone(pid);
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the restore");
    verdict(pid);
  }

  void twice() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    for (int i = 0; i < 2; i++) {
      restore_detached("img", pid);
      expect_same_as_first(pid, "after restore " + std::to_string(i + 1));
      verdict(pid);
    }
  }

  void redump() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the first restore");
    dump(pid, "img2", {});
    expect_gone(pid);
    restore_detached("img2", pid);
    expect_same_as_first(pid, "after the restore of the second dump");
    verdict(pid);
  }

  void attached() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    std::string pidfile = cfg_.workdir + "/restored.pid";
    unlink(pidfile.c_str());
    int inot = inotify_init1(IN_CLOEXEC);
    inotify_add_watch(inot, cfg_.workdir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
    size_t mark = slurp(out_).size();
    pid_t ckpt = spawn_ckpt({"restore", "-D", cfg_.workdir + "/img", "--pidfile", pidfile, "-v4"}, "restore");
    wait_for_file(inot, pidfile, ckpt);
    close(inot);
    int got = std::atoi(slurp(pidfile).c_str());
    if (got != pid) failf("pidfile says " + std::to_string(got) + ", want " + std::to_string(pid));
    await_untraced(pid, "after the attached restore");
    // Attached, the restored root is ckpt's child, not ours.
    expect_same_as_first(pid, "after the attached restore", {"status PPid"});
    kill(pid, SIGTERM);
    int status;
    if (!wait_child(ckpt, 60, &status)) failf("ckpt restore did not exit after its process got SIGTERM");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failf("ckpt restore " + describe_status(status) + " (want the process's exit status 0)\n" + ckpt_log());
    check_pass_after(mark);
  }

  void pid_taken() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {"--leave-running"});
    int rc = run_ckpt({"restore", "-D", cfg_.workdir + "/img", "-d", "-v4"}, "restore");
    std::string log = ckpt_log();
    if (rc == 0) failf("restore succeeded although pid " + std::to_string(pid) + " is taken");
    if (log.find("taken") == std::string::npos || log.find(std::to_string(pid)) == std::string::npos)
      failf("restore's error does not say the pid is taken:\n" + log);
    // Nothing new may be left behind: our only child is still the original.
    std::vector<pid_t> kids = children();
    if (kids.size() != 1 || kids[0] != pid) {
      std::string list;
      for (pid_t k : kids) list += " " + std::to_string(k);
      failf("after the failed restore the driver's children are:" + list);
    }
    expect_same_as_first(pid, "the original after the failed restore");
    verdict(pid);
  }

  void fail_cleanup() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    setenv("CKPT_RESTORE_TEST_FAIL", std::to_string(pid).c_str(), 1);
    int rc = run_ckpt({"restore", "-D", cfg_.workdir + "/img", "-d", "-v4"}, "restore");
    unsetenv("CKPT_RESTORE_TEST_FAIL");
    std::string log = ckpt_log();
    if (rc == 0) failf("restore succeeded although pid " + std::to_string(pid) + " was made to fail");
    if (log.find("cannot restore pid " + std::to_string(pid) + ": failure injected") == std::string::npos)
      failf("restore's error does not name pid " + std::to_string(pid) + ":\n" + log);
    std::vector<pid_t> kids = children();
    if (!kids.empty()) {
      std::string list;
      for (pid_t k : kids) list += " " + std::to_string(k);
      failf("after the failed restore the driver's children are:" + list);
    }
    if (kill(pid, 0) == 0) failf("pid " + std::to_string(pid) + " exists after the failed restore");
    printf("failed restore left nothing behind\n");
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the restore");
    verdict(pid);
  }

  void refused() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    std::vector<std::string> args = {"dump", "-t", std::to_string(pid), "-D", cfg_.workdir + "/img", "-v4"};
    args.insert(args.end(), cfg_.dump_args.begin(), cfg_.dump_args.end());
    int rc = run_ckpt(args, "dump");
    std::string log = ckpt_log();
    if (rc == 0) failf("the dump of pid " + std::to_string(pid) + " succeeded; it should have been refused");
    std::vector<std::string> want = cfg_.expect;
    want.push_back("of pid " + std::to_string(pid) + ":");
    for (const std::string& w : want)
      if (log.find(w) == std::string::npos) failf("the dump's error does not say '" + w + "':\n" + log);
    // Not stopped, not traced; running (R) or back in its wait (S): a dump
    // refused right after the freeze lets it go just before this look.
    expect_running(pid, "after the refused dump");
    if (access((cfg_.workdir + "/img/inventory.img").c_str(), F_OK) == 0) failf("the refused dump left an inventory");
    printf("dump refused as expected\n");
    expect_same_as_first(pid, "after the refused dump");
    verdict(pid);
  }

  void restore_refused() {
    pid_t pid = start_target();
    dump(pid, "img", {});
    expect_gone(pid);
    expect_restore_refused(pid);
  }

  void twice_refused() {
    pid_t pid = start_target();
    take_first_snapshot(pid);
    dump(pid, "img", {});
    expect_gone(pid);
    restore_detached("img", pid);
    expect_same_as_first(pid, "after the restore");
    verdict(pid);
    expect_restore_refused(pid);
  }

  void expect_restore_refused(pid_t pid) {
    before_restore();
    int rc = run_ckpt({"restore", "-D", cfg_.workdir + "/img", "-d", "-v4"}, "restore");
    std::string log = ckpt_log();
    if (rc == 0) failf("the restore of pid " + std::to_string(pid) + " succeeded; it should have been refused");
    std::vector<std::string> want = cfg_.expect;
    want.push_back("pid " + std::to_string(pid));
    for (const std::string& w : want)
      if (log.find(w) == std::string::npos) failf("the restore's error does not say '" + w + "':\n" + log);
    std::vector<pid_t> kids = children();
    if (!kids.empty()) failf("after the refused restore the driver has children, the first " + std::to_string(kids[0]));
    if (kill(pid, 0) == 0) failf("pid " + std::to_string(pid) + " exists after the refused restore");
    printf("restore refused as expected, nothing left behind\n");
  }

  // --- /proc snapshots ------------------------------------------------------

  rt::ProcSnapshot first_;

  // A snapshot once the tree has settled: a program that said ready may not
  // be in its wait yet, and tasks just released by a dump or a restore may
  // still be on their way back into the call they sleep in (sigtimedwait
  // shows another SigBlk while it waits).  Taken again until two in a row
  // agree with no task running, or agree for 0.5 s (a program that spins);
  // bounded: 3 s, then the last one.  Fields this test skips may change.
  rt::ProcSnapshot settled_snapshot(pid_t pid) {
    rt::ProcSnapshot last = rt::snapshot_tree(pid);
    double start = now(), stable_since = now();
    while (now() - start < 3) {
      usleep(20000);
      rt::ProcSnapshot next = rt::snapshot_tree(pid);
      bool same = rt::judge(rt::diff_snapshots(last, next), cfg_.snapshot_skip).unexpected.empty();
      if (!same) stable_since = now();
      bool running = false;
      for (const auto& [scope, fields] : next.scopes) {
        auto st = fields.find("status State");
        if (st != fields.end() && st->second.starts_with("R")) running = true;
      }
      last = std::move(next);
      if (same && (!running || now() - stable_since >= 0.5)) break;
    }
    return last;
  }

  int snapshots_ = 0;

  // Each snapshot is kept in the work dir as snapshot-N.txt.
  rt::ProcSnapshot kept_snapshot(pid_t pid) {
    rt::ProcSnapshot s = settled_snapshot(pid);
    std::ofstream(cfg_.workdir + "/snapshot-" + std::to_string(++snapshots_) + ".txt") << rt::to_text(s);
    return s;
  }

  void take_first_snapshot(pid_t pid) { first_ = kept_snapshot(pid); }

  void expect_same_as_first(pid_t pid, const std::string& when, std::vector<std::string> skip = {}) {
    skip.insert(skip.end(), cfg_.snapshot_skip.begin(), cfg_.snapshot_skip.end());
    rt::Judgement j = rt::judge(rt::diff_snapshots(first_, kept_snapshot(pid)), skip);
    for (const std::string& k : j.known_losses) printf("%s: %s\n", when.c_str(), k.c_str());
    if (!j.skipped.empty()) printf("%s: %zu differences in fields this test skips\n", when.c_str(), j.skipped.size());
    if (!j.unexpected.empty()) {
      std::string list;
      for (const std::string& u : j.unexpected) list += "\n  " + u;
      failf("/proc of the tree differs " + when + " from the snapshot taken when it was ready:" + list);
    }
    printf("/proc snapshot %s: same as before\n", when.c_str());
  }

  // --- steps ---------------------------------------------------------------

  // `sh -c CMD` in the work dir, bounded; false if it failed.
  bool shell(const std::string& cmd, const std::string& what) {
    pid_t pid = fork();
    if (pid < 0) failf("fork failed");
    if (pid == 0) {
      if (chdir(cfg_.workdir.c_str()) != 0) _exit(126);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
    printf("$ (%s) %s\n", what.c_str(), cmd.c_str());
    int status;
    if (!wait_child(pid, 60, &status)) {
      kill(pid, SIGKILL);
      wait_child(pid, 10, &status);
      return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  void before_restore() {
    if (!cfg_.before_restore.empty() && !shell(cfg_.before_restore, "--before-restore"))
      failf("--before-restore '" + cfg_.before_restore + "' failed");
  }


  pid_t start_target() {
    pid_t pid = fork();
    if (pid < 0) failf("fork failed");
    if (pid == 0) {
      // The target: its own session, stdin from /dev/null, stdout and
      // stderr appended to out.txt (regular files, which ckpt restores).
      setsid();
      int in = open("/dev/null", O_RDONLY);
      int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      close_range(3, ~0u, 0);
      if (chdir(cfg_.workdir.c_str()) != 0) _exit(126);
      std::string driver = std::to_string(getppid());
      setenv("CKPT_TEST_DRIVER", driver.c_str(), 1);
      setenv("CKPT_TEST_MODE", cfg_.mode.c_str(), 1);  // what the program goes through
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execl(cfg_.prog.c_str(), cfg_.prog.c_str(), (char*)nullptr);
      _exit(127);
    }
    started_.push_back(pid);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    double deadline = now() + 60;
    for (;;) {
      double left = deadline - now();
      if (left <= 0) failf("the test program did not get ready within 60 s\n" + slurp(out_));
      timespec ts{time_t(left) + 1, 0};
      siginfo_t si;
      int sig = sigtimedwait(&set, &si, &ts);
      if (sig == SIGUSR1 && si.si_pid == pid) return pid;
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid)
        failf("the test program " + describe_status(status) + " before it was ready\n" + slurp(out_));
    }
  }

  void dump(pid_t pid, const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> args = {"dump", "-t", std::to_string(pid), "-D", cfg_.workdir + "/" + dir, "-v4"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), cfg_.dump_args.begin(), cfg_.dump_args.end());
    int rc = run_ckpt(args, "dump");
    if (rc != 0) failf("ckpt dump of pid " + std::to_string(pid) + " failed (" + std::to_string(rc) + ")\n" + ckpt_log());
  }

  void expect_gone(pid_t pid) {
    int status;
    if (!wait_child(pid, 30, &status)) failf("pid " + std::to_string(pid) + " still runs after the dump");
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
      failf("after the dump pid " + std::to_string(pid) + " " + describe_status(status) + " (want killed by ckpt)");
    if (kill(pid, 0) == 0) failf("pid " + std::to_string(pid) + " still exists after the dump");
    reap_orphans();
  }

  // The rest of a dumped tree dies after its root: its processes and
  // zombies come to us (a subreaper) and must be reaped, or their pids stay
  // taken for the restore.  No other child of ours exists at this point.
  void reap_orphans() {
    double deadline = now() + 30;
    for (;;) {
      int status;
      pid_t r = waitpid(-1, &status, WNOHANG);
      if (r > 0) continue;
      if (r < 0) return;  // ECHILD: nothing left
      if (now() >= deadline) failf("the rest of the dumped tree did not end within 30 s");
      sigset_t chld;
      sigemptyset(&chld);
      sigaddset(&chld, SIGCHLD);
      timespec ts{0, 50 * 1000 * 1000};
      sigtimedwait(&chld, nullptr, &ts);
    }
  }

  size_t mark_ = 0;

  // `stopped`: the process was dumped stopped (checked by the caller);
  // otherwise ckpt's hold must have left no trace: it runs, untraced.
  void restore_detached(const std::string& dir, pid_t pid, bool stopped = false) {
    before_restore();
    mark_ = slurp(out_).size();
    std::string pidfile = cfg_.workdir + "/restored.pid";
    int rc = run_ckpt({"restore", "-D", cfg_.workdir + "/" + dir, "-d", "--pidfile", pidfile, "-v4"}, "restore");
    if (rc != 0) failf("ckpt restore failed (" + std::to_string(rc) + ")\n" + ckpt_log());
    int got = std::atoi(slurp(pidfile).c_str());
    if (got != pid) failf("restored pid is " + std::to_string(got) + ", want " + std::to_string(pid));
    if (!alive(pid)) failf("restored pid " + std::to_string(pid) + " is not running\n" + slurp(out_));
    if (!stopped) expect_running(pid, "after the restore");
  }

  // SIGTERM the process (our child, directly or through the subreaper) and
  // read its verdict.
  void verdict(pid_t pid) {
    size_t mark = slurp(out_).size() < mark_ ? 0 : mark_;
    if (kill(pid, SIGTERM) != 0) failf("cannot signal pid " + std::to_string(pid));
    int status;
    if (!wait_child(pid, 120, &status)) failf("pid " + std::to_string(pid) + " gave no verdict within 120 s");
    std::string out = slurp(out_).substr(mark);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.find("PASS") == std::string::npos)
      failf("pid " + std::to_string(pid) + " " + describe_status(status) + ", its output:\n" + out);
    mark_ = slurp(out_).size();
    printf("verdict of pid %d: PASS\n", pid);
  }

  void check_pass_after(size_t mark) {
    std::string out = slurp(out_).substr(mark);
    if (out.find("PASS") == std::string::npos) failf("no PASS in the output:\n" + out);
    printf("verdict: PASS\n");
  }

  void wait_for_file(int inot, const std::string& path, pid_t ckpt) {
    double deadline = now() + 60;
    while (access(path.c_str(), F_OK) != 0 || slurp(path).empty()) {
      int status;
      if (waitpid(ckpt, &status, WNOHANG) == ckpt)
        failf("ckpt restore " + describe_status(status) + " before writing the pidfile\n" + ckpt_log());
      double left = deadline - now();
      if (left <= 0) failf("no pidfile within 60 s\n" + ckpt_log());
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(inot, &fds);
      timeval tv{0, 200000};
      if (select(inot + 1, &fds, nullptr, nullptr, &tv) > 0) {
        char buf[4096];
        (void)!read(inot, buf, sizeof(buf));
      }
    }
  }

  // --- running ckpt ----------------------------------------------------------

  std::string last_log_;

  std::string ckpt_log() { return slurp(last_log_); }

  pid_t spawn_ckpt(std::vector<std::string> args, const std::string& what) {
    if (!args.empty() && args[0] == "restore") args.insert(args.end(), cfg_.restore_args.begin(), cfg_.restore_args.end());
    last_log_ = cfg_.workdir + "/ckpt-" + std::to_string(++ckpt_runs_) + "-" + what + ".out";
    pid_t pid = fork();
    if (pid < 0) failf("fork failed");
    if (pid == 0) {
      int log = open(last_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = open("/dev/null", O_RDONLY);
      dup2(in, 0);
      dup2(log, 1);
      dup2(log, 2);
      close_range(3, ~0u, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(cfg_.ckpt.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(cfg_.ckpt.c_str(), argv.data());
      _exit(127);
    }
    std::string line = cfg_.ckpt;
    for (const auto& a : args) line += " " + a;
    printf("$ %s\n", line.c_str());
    fflush(stdout);
    return pid;
  }

  int run_ckpt(const std::vector<std::string>& args, const std::string& what) {
    pid_t pid = spawn_ckpt(args, what);
    int status;
    if (!wait_child(pid, 300, &status)) {
      kill(pid, SIGKILL);
      wait_child(pid, 10, &status);
      failf("ckpt " + what + " did not finish within 300 s\n" + ckpt_log());
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // --- cleanup ---------------------------------------------------------------

  std::vector<pid_t> children() {
    std::vector<pid_t> kids;
    DIR* d = opendir("/proc");
    if (!d) return kids;
    std::string me = std::to_string(getpid());
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::string stat = slurp(std::string("/proc/") + e->d_name + "/stat");
      size_t p = stat.rfind(')');
      if (p == std::string::npos) continue;
      std::istringstream rest(stat.substr(p + 2));
      std::string state, ppid;
      rest >> state >> ppid;
      if (ppid == me) kids.push_back(std::atoi(e->d_name));
    }
    closedir(d);
    return kids;
  }

  void kill_leftovers() {
    for (pid_t k : children()) kill(k, SIGKILL);
    int status;
    for (pid_t k : children()) wait_child(k, 10, &status);
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
  }
};

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) failf("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--ckpt") c.ckpt = next();
    else if (a == "--prog") c.prog = next();
    else if (a == "--mode") c.mode = next();
    else if (a == "--workdir") c.workdir = next();
    else if (a == "--dump-arg") c.dump_args.push_back(next());
    else if (a == "--restore-arg") c.restore_args.push_back(next());
    else if (a == "--expect") c.expect.push_back(next());
    else if (a == "--snapshot-skip") c.snapshot_skip.push_back(next());
    else if (a == "--before-restore") c.before_restore = next();
    else if (a == "--cleanup") c.cleanup = next();
    else failf("unknown argument " + a);
  }
  if (c.ckpt.empty() || c.prog.empty()) failf("usage: rt_driver --ckpt PATH --prog PATH [--mode MODE] [--workdir DIR]");
  // The target starts in the work dir: relative paths would break there.
  c.ckpt = std::filesystem::absolute(c.ckpt);
  c.prog = std::filesystem::absolute(c.prog);
  if (c.workdir.empty()) {
    char tmpl[] = "/tmp/ckpt-rt-XXXXXX";
    if (!mkdtemp(tmpl)) failf("mkdtemp failed");
    c.workdir = tmpl;
  } else {
    // A fresh work dir each run: old images or output must not leak in.
    std::filesystem::remove_all(c.workdir);
    std::filesystem::create_directories(c.workdir);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  // Inherited fds (possibly from other mount namespaces) must not leak into
  // the targets or into ckpt.
  close_range(3, ~0u, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  try {
    Config cfg = parse(argc, argv);
    printf("workdir %s, mode %s, program %s\n", cfg.workdir.c_str(), cfg.mode.c_str(), cfg.prog.c_str());
    Driver d(cfg);
    d.run();
    printf("PASS\n");
    return 0;
  } catch (const Failure& f) {
    printf("FAIL: %s\n", f.what());
    return 1;
  }
}
