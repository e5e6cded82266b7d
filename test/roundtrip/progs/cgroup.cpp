// cgroup membership across the round trip: the program puts itself into a
// fresh cgroup made under its own (cgroup v2, and the v1 "pids" hierarchy
// if one is mounted), and its child into one below that; after the restore
// each checks /proc/self/cgroup is what it was.
//
// With CKPT_TEST_CGROUP=thread (mode refused) it makes instead a threaded
// cgroup v2 subtree and puts a second thread into its own cgroup there: the
// dump must refuse the thread by name, and the thread is still there after.
//
// The cgroups it made are listed in ./cgroups, in the order made: the
// test's --cleanup removes them once the processes are gone (a program
// dumped --leave-running or restored twice needs them after its verdict),
// and a test that removes them before the restore sees it refused.
#include "testlib.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) out.push_back(part);
  return out;
}

struct Hierarchy {
  std::string name;   // "cgroup v2", "pids"
  std::string own;    // the directory of the cgroup the program started in
};

// The directory of this process's cgroup of the hierarchy whose
// /proc/self/cgroup line has `controllers` ("" for v2), through its mount
// (fstype cgroup2, or cgroup with `controllers` among its options).
std::string own_dir(const std::string& controllers) {
  std::string path;
  bool found = false;
  for (const std::string& line : split(slurp("/proc/self/cgroup"), '\n')) {
    size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    if (line.substr(c1 + 1, c2 - c1 - 1) == controllers && (controllers != "" || line.substr(0, c1) == "0"))
      path = line.substr(c2 + 1), found = true;
  }
  if (!found) return "";
  for (const std::string& line : split(slurp("/proc/self/mountinfo"), '\n')) {
    std::vector<std::string> w = split(line, ' ');
    size_t dash = 0;
    while (dash < w.size() && w[dash] != "-") dash++;
    if (dash + 3 >= w.size() || w[3] != "/") continue;
    bool match = controllers.empty() ? w[dash + 1] == "cgroup2" : w[dash + 1] == "cgroup";
    if (match && !controllers.empty()) {
      match = false;
      for (const std::string& opt : split(w[dash + 3], ','))
        if (opt == controllers) match = true;
    }
    if (match) return w[4] + (path == "/" ? "" : path);
  }
  return "";
}

void write_to(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY);
  RT_CHECK(fd >= 0, "open %s: %s", path.c_str(), strerror(errno));
  RT_CHECK(write(fd, text.data(), text.size()) == ssize_t(text.size()), "write %s to %s: %s", text.c_str(),
           path.c_str(), strerror(errno));
  close(fd);
}

void enter(const std::string& dir) {
  std::string procs = dir + "/cgroup.procs";
  int fd = open(procs.c_str(), O_WRONLY);
  RT_CHECK(fd >= 0, "open %s: %s", procs.c_str(), strerror(errno));
  std::string pid = std::to_string(getpid());
  RT_CHECK(write(fd, pid.data(), pid.size()) == ssize_t(pid.size()), "write %s: %s", procs.c_str(), strerror(errno));
  close(fd);
}

void make(const std::string& dir) {
  RT_CHECK(mkdir(dir.c_str(), 0755) == 0, "mkdir %s: %s (is cgroupfs writable?)", dir.c_str(), strerror(errno));
  FILE* list = fopen("cgroups", "a");
  RT_CHECK(list, "cannot write ./cgroups");
  fprintf(list, "%s\n", dir.c_str());
  fclose(list);
}

// A thread that waits until told to end.
class Waiter {
 public:
  pid_t start() {
    t_ = std::thread([this] {
      std::unique_lock<std::mutex> l(m_);
      tid_ = gettid();
      cv_.notify_all();
      cv_.wait(l, [this] { return end_; });
    });
    std::unique_lock<std::mutex> l(m_);
    RT_CHECK(cv_.wait_for(l, std::chrono::seconds(60), [this] { return tid_ != 0; }), "the thread did not start");
    return tid_;
  }
  void stop() {
    {
      std::lock_guard<std::mutex> g(m_);
      end_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  pid_t tid_ = 0;
  bool end_ = false;
  std::thread t_;
};

// The process in a "domain threaded" cgroup, a thread in a threaded child.
[[noreturn]] void thread_in_own_cgroup(const std::string& v2) {
  std::string top = v2 + "/ckpt-rt-" + std::to_string(getpid()), sub = top + "/thread";
  make(top);
  make(sub);
  write_to(sub + "/cgroup.type", "threaded");
  enter(top);
  Waiter waiter;
  pid_t tid = waiter.start();
  write_to(sub + "/cgroup.threads", std::to_string(tid));
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/cgroup";
  std::string its = slurp(path);
  RT_CHECK(its.find("/thread\n") != std::string::npos, "the thread is not in its cgroup: %s", its.c_str());
  rt::ready();
  rt::wait_term();
  RT_CHECK(slurp(path) == its, "the thread's cgroups changed: %s", slurp(path).c_str());
  waiter.stop();
  rt::pass();
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2});
  unlink("cgroups");
  const char* variant = getenv("CKPT_TEST_CGROUP");
  std::vector<Hierarchy> hs;
  std::string v2 = own_dir("");
  RT_CHECK(!v2.empty(), "no cgroup2 mount for this process's cgroup");
  hs.push_back({"cgroup v2", v2});
  if (variant && std::string(variant) == "thread") thread_in_own_cgroup(v2);
  if (std::string pids = own_dir("pids"); !pids.empty()) hs.push_back({"pids", pids});

  std::string name = "ckpt-rt-" + std::to_string(getpid());
  for (const Hierarchy& h : hs) make(h.own + "/" + name);
  for (const Hierarchy& h : hs) make(h.own + "/" + name + "/child");
  for (const Hierarchy& h : hs) enter(h.own + "/" + name);
  std::string mine = slurp("/proc/self/cgroup");

  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    for (const Hierarchy& h : hs) enter(h.own + "/" + name + "/child");
    std::string its = slurp("/proc/self/cgroup");
    kill(getppid(), SIGUSR2);
    rt::wait_term();
    std::string now = slurp("/proc/self/cgroup");
    if (now != its) {
      printf("FAIL: the child's cgroups are\n%swant\n%s", now.c_str(), its.c_str());
      _exit(1);
    }
    _exit(0);
  }
  rt::await_signal(SIGUSR2, "the child in its cgroup");
  rt::ready();
  rt::wait_term();

  std::string now = slurp("/proc/self/cgroup");
  kill(child, SIGTERM);
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(now == mine, "the cgroups are\n%swant\n%s", now.c_str(), mine.c_str());
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's cgroups changed");
  rt::pass();
}
