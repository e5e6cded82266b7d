// Multi-threaded processes: one whose main thread has exited, one whose
// threads come and go while it is seized, and one with a thread held by
// another tracer.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;
using compel::TaskState;

namespace {

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

// Through a thread: the memory of a process whose main thread has exited
// cannot be reached through its pid.
uint64_t read_u64(pid_t tid, uint64_t addr) {
  uint64_t v = 0;
  struct iovec local = {&v, sizeof(v)}, remote = {reinterpret_cast<void*>(addr), sizeof(v)};
  CHECK(process_vm_readv(tid, &local, 1, &remote, 1, 0) == sizeof(v), "reading the target's memory through ", tid,
        ": ", std::strerror(errno));
  return v;
}

bool advances(pid_t tid, uint64_t addr) {
  uint64_t v0 = read_u64(tid, addr);
  return wait_until([&] { return read_u64(tid, addr) != v0; }, 3000);
}

std::string join(const std::vector<pid_t>& v) {
  std::string out;
  for (pid_t x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

std::vector<pid_t> tids_of(const compel::Process& p, bool with_zombies = false) {
  std::vector<pid_t> out;
  for (const compel::Thread& t : p.threads)
    if (with_zombies || t.state != TaskState::Zombie) out.push_back(t.tid);
  std::sort(out.begin(), out.end());
  return out;
}

bool is_dead_state(char state) { return state == 'Z' || state == 'X' || state == '?'; }

}  // namespace

// ---------------------------------------------------------------------------
// The main thread has exited (pthread_exit), three threads run on.

namespace {

struct Leaderless {
  Target t{"leaderless"};
  uint64_t progress = 0, page = 0;
  struct Worker {
    pid_t tid;
    int sig;
  };
  std::vector<Worker> workers;  // busy, sleeper, control
  std::vector<pid_t> live;      // their tids, sorted

  Leaderless() {
    auto w = t.ready();
    CHECK(w.size() == 5, "ready line of ", w.size(), " words");
    progress = std::stoull(w[0]);
    page = std::stoull(w[1]);
    for (size_t i = 2; i < w.size(); i++) {
      Worker k{};
      CHECK(std::sscanf(w[i].c_str(), "%d:%d", &k.tid, &k.sig) == 2, w[i]);
      workers.push_back(k);
      live.push_back(k.tid);
    }
    std::sort(live.begin(), live.end());
    CHECK(proc_state(t.pid()) == 'Z', "the main thread is ", proc_state(t.pid()), ", not a zombie");
    std::vector<pid_t> all = live;
    all.push_back(t.pid());
    std::sort(all.begin(), all.end());
    CHECK(thread_ids(t.pid()) == all, "/proc lists ", join(thread_ids(t.pid())));
  }
  pid_t busy_tid() const { return workers[0].tid; }
};

// The seized process as it must look: the dead leader first, the live
// threads after it, each in a tracing stop.
void check_frozen(const FrozenTree& tree, const Leaderless& l, TaskState state) {
  pid_t pid = l.t.pid();
  const compel::Process& p = tree.process(pid);
  CHECK(p.state == state, "process state ", static_cast<int>(p.state));
  CHECK(p.threads.size() == 4, p.threads.size(), " threads recorded");
  CHECK(p.threads[0].tid == pid && p.threads[0].state == TaskState::Zombie, "the exited main thread is not first");
  for (size_t i = 1; i < p.threads.size(); i++) CHECK(p.threads[i].state == state);
  CHECK(tids_of(p) == l.live, "seized ", join(tids_of(p)), ", live ", join(l.live));
  for (pid_t tid : l.live) {
    CHECK(proc_state(pid, tid) == 't', "thread ", tid, " is ", proc_state(pid, tid), ", not in a tracing stop");
    CHECK(tracer_of(tid) == getpid(), "thread ", tid, " is not traced by us");
  }
  CHECK(tracer_of(pid) <= 0, "the exited main thread was seized");
  for (auto access : {+[](const FrozenTree& t, pid_t tid) { t.get_registers(tid); },
                      +[](const FrozenTree& t, pid_t tid) { t.syscall_state(tid); },
                      +[](const FrozenTree& t, pid_t tid) { t.blocked_mask(tid); }}) {
    std::string msg = error_of([&] { access(tree, pid); });
    CHECK(contains(msg, "thread " + std::to_string(pid)) && contains(msg, "has exited"), "access to the dead main thread: ",
          msg.empty() ? "no error" : msg);
  }
}

void check_thread_info(const std::vector<compel::ThreadInfo>& infos, const Leaderless& l) {
  CHECK(infos.size() == l.workers.size(), infos.size(), " thread infos");
  for (const auto& w : l.workers) {
    const compel::ThreadInfo* info = nullptr;
    for (const auto& ti : infos)
      if (ti.tid == w.tid) info = &ti;
    CHECK(info, "no thread info for tid ", w.tid);
    for (const auto& other : l.workers)
      CHECK(((info->blocked >> (other.sig - 1)) & 1) == (other.tid == w.tid ? 1u : 0u), "tid ", w.tid, " mask 0x",
            std::hex, info->blocked);
    CHECK(info->creds.uid == getuid());
  }
}

}  // namespace

COMPEL_TEST(leader_exited) {
  Leaderless l;
  pid_t pid = l.t.pid();
  CHECK(advances(l.busy_tid(), l.progress), "the busy thread does not run");
  int memfd = memfd_create("pages", MFD_CLOEXEC);
  CHECK(memfd >= 0);
  for (int i = 0; i < 50; i++) {
    FrozenTree tree = FrozenTree::seize(pid);
    check_frozen(tree, l, TaskState::Running);
    pid_t first = l.live[0];
    compel::Registers before = tree.get_registers(first);
    {
      Infection inf = Infection::infect(tree, pid);
      // The first live thread stands in for the main thread.
      CHECK(inf.syscall(SYS_getpid) == pid);
      CHECK(inf.syscall(SYS_gettid) == first, "remote syscalls ran in thread ", inf.syscall(SYS_gettid));
      compel::ProcessInfo info = inf.process_info();
      CHECK(info.sigactions[SIGKILL - 1].handler == 0);
      check_thread_info(inf.thread_info(), l);
      if (i % 10 == 0) {
        std::vector<int> fds = inf.steal_fds({4});  // the control pipe's read end
        struct stat st;
        CHECK(fds.size() == 1 && fstat(fds[0], &st) == 0 && S_ISFIFO(st.st_mode), "stolen fd");
        close(fds[0]);
        CHECK(ftruncate(memfd, 0) == 0 && lseek(memfd, 0, SEEK_SET) == 0);
        CHECK(inf.splice_pages({{l.page, 4096}}, memfd) == 4096);
        uint8_t buf[4096];
        CHECK(pread(memfd, buf, sizeof(buf), 0) == 4096);
        for (size_t b = 0; b < sizeof(buf); b++)
          CHECK(buf[b] == static_cast<uint8_t>(b * 7 + 3), "byte ", b, " of the spliced page");
      }
      inf.cure();
    }
    compel::Registers after = tree.get_registers(first);
    CHECK(std::memcmp(&before.gp, &after.gp, sizeof(before.gp)) == 0 && before.xstate == after.xstate,
          "cycle ", i, ": registers of thread ", first, " differ after cure");
    tree.release();
    for (pid_t tid : l.live) CHECK(tracer_of(tid) == 0, "cycle ", i, ": thread ", tid, " is still traced");
  }
  close(memfd);
  CHECK(advances(l.busy_tid(), l.progress), "the busy thread stopped running after the cycles");

  // Group-stopped: every live thread stops, and stays so after release.
  kill(pid, SIGSTOP);
  auto all_stopped = [&] {
    for (pid_t tid : l.live)
      if (proc_state(pid, tid) != 'T') return false;
    return true;
  };
  CHECK(wait_until(all_stopped, 3000), "SIGSTOP did not stop every live thread");
  for (int i = 0; i < 10; i++) {
    FrozenTree tree = FrozenTree::seize(pid);
    check_frozen(tree, l, TaskState::Stopped);
    {
      Infection inf = Infection::infect(tree, pid);
      check_thread_info(inf.thread_info(), l);
    }
    tree.release();
    CHECK(wait_until(all_stopped, 1000), "cycle ", i, ": a thread is no longer stopped");
  }
  kill(pid, SIGCONT);
  CHECK(advances(l.busy_tid(), l.progress), "the busy thread does not run after SIGCONT");
  l.t.send("stop");
  l.t.expect_success();
}

COMPEL_TEST(leader_exited_kill) {
  Leaderless l;
  {
    FrozenTree tree = FrozenTree::seize(l.t.pid());
    check_frozen(tree, l, TaskState::Running);
    Infection inf = Infection::infect(tree, l.t.pid());
    inf.process_info();
    tree.kill();
  }
  int st = l.t.wait_exit(5000);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "wait status 0x", std::hex, st);
}

// ---------------------------------------------------------------------------
// Threads created and ending all the time while the process is seized.

COMPEL_TEST(churn) {
  Target t("churn");
  uint64_t finished = std::stoull(t.ready().at(0));
  pid_t pid = t.pid();
  CHECK(advances(pid, finished), "the target makes no threads");
  size_t most = 0;
  for (int i = 0; i < 50; i++) {
    FrozenTree tree = FrozenTree::seize(pid);
    const compel::Process& p = tree.process(pid);
    CHECK(p.state == TaskState::Running && !p.threads.empty() && p.threads[0].tid == pid &&
              p.threads[0].state == TaskState::Running,
          "cycle ", i, ": main thread not first, or not running");
    std::vector<pid_t> seized = tids_of(p, true);
    CHECK(std::adjacent_find(seized.begin(), seized.end()) == seized.end(), "cycle ", i, ": a tid recorded twice");
    most = std::max(most, seized.size());
    // Every thread the process has is seized and stopped, and every seized
    // one exists: /proc may only add threads that are already dead (on
    // their way out, never seized).
    auto check_consistent = [&](const char* when) {
      std::set<pid_t> listed;
      for (pid_t tid : thread_ids(pid)) {
        listed.insert(tid);
        char state = proc_state(pid, tid);
        bool ours = std::binary_search(seized.begin(), seized.end(), tid);
        CHECK(ours || is_dead_state(state), "cycle ", i, " ", when, ": thread ", tid, " (", state,
              ") was missed; seized ", join(seized));
        CHECK(!ours || state == 't', "cycle ", i, " ", when, ": thread ", tid, " is ", state,
              ", not in a tracing stop");
        CHECK(!ours || tracer_of(tid) == getpid(), "cycle ", i, " ", when, ": thread ", tid, " is not traced by us");
      }
      for (pid_t tid : seized)
        CHECK(listed.count(tid), "cycle ", i, " ", when, ": thread ", tid, " is recorded but does not exist");
    };
    check_consistent("after seize");
    {
      Infection inf = Infection::infect(tree, pid);
      CHECK(inf.syscall(SYS_getpid) == pid);
      inf.process_info();
      CHECK(inf.thread_info().size() == seized.size(), "cycle ", i, ": thread_info does not cover every thread");
      inf.cure();
    }
    check_consistent("after cure");
    tree.release();
    for (pid_t tid : seized) {
      pid_t tracer = tracer_of(tid);
      CHECK(tracer <= 0, "cycle ", i, ": thread ", tid, " is still traced by ", tracer);
    }
    CHECK(advances(pid, finished), "cycle ", i, ": the target no longer makes threads");
  }
  note(concat("up to ", most, " threads seized at once"));
  t.send("stop");
  std::string report = t.read_line();
  unsigned long long made = 0;
  CHECK(std::sscanf(report.c_str(), "threads=%llu", &made) == 1 && made > 0, report);
  note(report);
  t.expect_success();
}

// ---------------------------------------------------------------------------
// One thread held by another tracer: the seize fails naming it, and
// everything seized before is let go.

COMPEL_TEST(err_traced_thread) {
  Target t("threads");
  auto w = t.ready();
  pid_t pid = t.pid();
  std::vector<pid_t> workers;
  for (const std::string& word : w) workers.push_back(std::stoi(word));
  std::sort(workers.begin(), workers.end());
  // compel seizes the main thread first, then the others in tid order: hold
  // one in the middle, so that some are seized before it and some never.
  pid_t held = workers[workers.size() / 2];
  int ready[2], done[2];
  CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(done, O_CLOEXEC) == 0);
  pid_t debugger = fork();
  if (debugger == 0) {
    close(ready[0]);
    close(done[1]);
    char ok = 'n';
    int st = 0;
    if (ptrace(PTRACE_ATTACH, held, 0, 0) == 0 && waitpid(held, &st, __WALL) == held && WIFSTOPPED(st)) ok = 'y';
    if (write(ready[1], &ok, 1) != 1) _exit(1);
    char c;
    (void)!read(done[0], &c, 1);  // until the driver closes it
    ptrace(PTRACE_DETACH, held, 0, 0);
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char ok = 0;
  CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y', "the debugger could not attach to ", held);
  close(ready[0]);
  auto start = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { FrozenTree::seize(pid); });
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(contains(msg, "cannot seize thread " + std::to_string(held) + " of pid " + std::to_string(pid)) &&
            contains(msg, "traced by pid " + std::to_string(debugger)),
        msg.empty() ? "no error" : msg);
  CHECK(took < 2, "the seize took ", took, " s to fail");
  // Every other thread is untraced and runs (or sleeps) on.
  for (pid_t tid : thread_ids(pid)) {
    if (tid == held) continue;
    CHECK(tracer_of(tid) == 0, "thread ", tid, " is still traced by ", tracer_of(tid));
    CHECK(wait_until([&] { char s = proc_state(pid, tid); return s == 'R' || s == 'S'; }, 2000), "thread ", tid,
          " is ", proc_state(pid, tid));
  }
  CHECK(tracer_of(held) == debugger, "the debugger lost thread ", held);
  close(done[1]);
  int st = 0;
  CHECK(wait_until([&] { return waitpid(debugger, &st, WNOHANG) == debugger; }, 3000), "the debugger did not exit");
  CHECK(wait_until([&] { return tracer_of(held) == 0; }, 2000));
  // Now nothing stands in the way.
  infect_cycle(pid, [&](FrozenTree& tree, Infection& inf) {
    CHECK(tree.process(pid).threads.size() == 8);
    CHECK(inf.thread_info().size() == 8);
  });
  t.send("stop");
  t.expect_success();
}
