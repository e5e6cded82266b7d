// Whole trees: every process and thread found (even while tasks fork and
// clone), parents before children, zombies recorded, the cgroup freezer.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

std::vector<pid_t> proc_children(pid_t pid) {
  std::vector<pid_t> out;
  for (pid_t tid : thread_ids(pid)) {
    std::istringstream s(read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/children"));
    for (pid_t c; s >> c;) out.push_back(c);
  }
  return out;
}

// While frozen, the tree must match /proc exactly: every thread of every
// process, every child of every process, parents listed first.
void check_complete(const FrozenTree& tree, pid_t root) {
  const auto& procs = tree.processes();
  CHECK(!procs.empty() && procs[0].pid == root, "the root is not listed first");
  std::set<pid_t> listed;
  for (const compel::Process& p : procs) {
    CHECK(p.pid == root || listed.count(p.ppid), "pid ", p.pid, " listed before its parent ", p.ppid);
    listed.insert(p.pid);
  }
  for (const compel::Process& p : procs) {
    if (p.state == compel::TaskState::Zombie) continue;
    std::vector<pid_t> seized;
    for (const compel::Thread& t : p.threads) seized.push_back(t.tid);
    CHECK(!seized.empty() && seized[0] == p.pid, "pid ", p.pid, ": main thread not first");
    std::sort(seized.begin(), seized.end());
    CHECK(seized == thread_ids(p.pid), "pid ", p.pid, ": ", seized.size(), " threads seized, ",
          thread_ids(p.pid).size(), " exist");
    for (pid_t tid : seized) CHECK(tracer_of(tid) == getpid(), "thread ", tid, " is not traced by us");
    for (pid_t c : proc_children(p.pid))
      CHECK(listed.count(c), "child ", c, " of ", p.pid, " was missed; it is: ", read_text("/proc/" + std::to_string(c) + "/stat"),
            " its parent: ", read_text("/proc/" + std::to_string(p.pid) + "/stat"), " listed processes: ", procs.size());
  }
}

void check_released(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids)
    for (pid_t tid : thread_ids(pid)) CHECK(tracer_of(tid) <= 0, "thread ", tid, " is still traced");
}

}  // namespace

COMPEL_TEST(tree) {
  Target t("family", {"children=2", "grandchildren"});
  auto kids = t.ready();
  pid_t root = t.pid();
  CHECK(wait_until([&] { return proc_children(std::stoi(kids[0])).size() == 1 &&
                                proc_children(std::stoi(kids[1])).size() == 1; }, 3000));
  for (int i = 0; i < 20; i++) {
    FrozenTree tree = FrozenTree::seize(root);
    check_complete(tree, root);
    CHECK(tree.processes().size() == 5, tree.processes().size(), " processes");
    CHECK(tree.process(root).threads.size() == 2);
    std::vector<pid_t> pids;
    for (const compel::Process& p : tree.processes()) {
      pids.push_back(p.pid);
      Infection inf = Infection::infect(tree, p.pid);
      inf.process_info();
      CHECK(inf.thread_info().size() == p.threads.size());
    }
    tree.release();
    check_released(pids);
  }
  t.send("stop");
  std::string report = t.read_line();
  CHECK(report == "exit " + kids[0] + "=0 " + kids[1] + "=0", report);
  t.expect_success();
}

COMPEL_TEST(zombie) {
  Target t("family", {"children=1", "zombie"});
  auto w = t.ready();
  CHECK(w.size() == 3 && w[1] == "zombie");
  pid_t z = std::stoi(w[2]);
  {
    FrozenTree tree = FrozenTree::seize(t.pid());
    check_complete(tree, t.pid());
    const compel::Process& zp = tree.process(z);
    CHECK(zp.state == compel::TaskState::Zombie && zp.threads.empty() && zp.ppid == t.pid());
    CHECK(tracer_of(z) <= 0, "a zombie was seized");
    bool refused = false;
    try {
      Infection::infect(tree, z);
    } catch (const compel::Error& e) {
      refused = std::string(e.what()).find("zombie") != std::string::npos;
    }
    CHECK(refused, "infecting a zombie did not fail clearly");
  }
  t.send("stop");
  std::string report = t.read_line();
  CHECK(report == "exit " + w[0] + "=0 " + w[2] + "=" + std::to_string(7 << 8), report);
  t.expect_success();
}

COMPEL_TEST(forker) {
  Target t("forker");
  t.ready();
  for (int i = 0; i < 50; i++) {
    FrozenTree tree = FrozenTree::seize(t.pid());
    check_complete(tree, t.pid());
    std::vector<pid_t> pids;
    for (const compel::Process& p : tree.processes()) pids.push_back(p.pid);
    {
      Infection inf = Infection::infect(tree, t.pid());
      inf.process_info();
    }
    tree.release();
    check_released(pids);
    reap_orphans();
  }
  t.send("stop");
  std::string report = t.read_line();
  long forks = 0, threads = 0;
  CHECK(std::sscanf(report.c_str(), "forks=%ld threads=%ld", &forks, &threads) == 2 && forks > 0 && threads > 0, report);
  t.expect_success();
}

namespace {

// A fresh cgroup under `base` holding the target's processes; removed at
// the end.
struct TestCgroup {
  std::string dir;
  explicit TestCgroup(const std::string& base) : dir(base + "/compel-test-" + std::to_string(getpid())) {
    CHECK(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST, "mkdir ", dir);
  }
  ~TestCgroup() {
    wait_until([&] { return rmdir(dir.c_str()) == 0 || errno == ENOENT; }, 3000);
  }
  void add(pid_t pid) {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << pid << std::endl;
    CHECK(procs.good(), "cannot move ", pid, " into ", dir);
  }
};

void freeze_cycles(const std::string& base, const char* state_file, const char* thawed) {
  TestCgroup cg(base);
  {
    Target t("forker");
    t.ready();
    cg.add(t.pid());
    compel::SeizeOptions opts;
    opts.freezer_cgroup = cg.dir;
    for (int i = 0; i < 20; i++) {
      FrozenTree tree = FrozenTree::seize(t.pid(), opts);
      check_complete(tree, t.pid());
      CHECK(read_text(cg.dir + "/" + state_file).find(thawed) != std::string::npos, "the cgroup is still frozen");
      {
        Infection inf = Infection::infect(tree, t.pid());
        inf.process_info();
      }
      tree.release();
      reap_orphans();
    }
    t.send("stop");
    t.read_line();
    t.expect_success();
  }
  reap_orphans();
}

}  // namespace

COMPEL_TEST(freezer) {
  int ran = 0;
  std::string mounts = read_text("/proc/self/mounts");
  for (const char* v2 : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (access((std::string(v2) + "/cgroup.controllers").c_str(), F_OK) == 0) {
      note(concat("cgroup v2 at ", v2));
      freeze_cycles(v2, "cgroup.events", "frozen 0");
      ran++;
      break;
    }
  }
  if (access("/sys/fs/cgroup/freezer/freezer.state", F_OK) == 0 ||
      access("/sys/fs/cgroup/freezer/tasks", F_OK) == 0) {
    note("cgroup v1 freezer at /sys/fs/cgroup/freezer");
    freeze_cycles("/sys/fs/cgroup/freezer", "freezer.state", "THAWED");
    ran++;
  }
  if (!ran) throw Skip("no cgroup freezer (v2 or v1) is mounted");
}

COMPEL_TEST(kill) {
  Target t("family", {"children=2", "grandchildren"});
  auto kids = t.ready();
  CHECK(wait_until([&] { return proc_children(std::stoi(kids[0])).size() == 1 &&
                                proc_children(std::stoi(kids[1])).size() == 1; }, 3000));
  std::vector<pid_t> pids;
  {
    FrozenTree tree = FrozenTree::seize(t.pid());
    for (const compel::Process& p : tree.processes()) pids.push_back(p.pid);
    CHECK(pids.size() == 5);
    Infection inf = Infection::infect(tree, pids[1]);
    inf.process_info();
    tree.kill();  // the live infection is simply dropped
  }
  int st = t.wait_exit(5000);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "root status 0x", std::hex, st);
  // The others were the root's children and grandchildren: reparented to
  // us, the subreaper, and dead.
  CHECK(wait_until([&] {
          reap_orphans();
          for (pid_t pid : pids)
            if (kill(pid, 0) == 0) return false;
          return true;
        }, 3000), "a process of the killed tree lives on");
}
