// cgroup membership across the round trip: the program puts itself into a
// fresh cgroup made under its own (cgroup v2, and the v1 "pids" hierarchy
// if one is mounted), and its child into one below that; after the restore
// each checks /proc/self/cgroup is what it was.
//
// The cgroups it made are listed in ./cgroups, in the order made: the
// test's --cleanup removes them once the processes are gone (a program
// dumped --leave-running or restored twice needs them after its verdict),
// and a test that removes them before the restore sees it refused.
#include "testlib.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
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

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2});
  unlink("cgroups");
  std::vector<Hierarchy> hs;
  std::string v2 = own_dir("");
  RT_CHECK(!v2.empty(), "no cgroup2 mount for this process's cgroup");
  hs.push_back({"cgroup v2", v2});
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
