// Multi-threaded processes: one whose threads come and go while it is
// seized.
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

