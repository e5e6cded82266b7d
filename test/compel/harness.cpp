#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

namespace ctest {

static bool verbose = false;
void set_verbose(bool v) { verbose = v; }
void note(const std::string& line) {
  if (verbose) std::cerr << "  " << line << "\n";
}

void fail_at(const char* file, int line, const char* cond, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  throw Failure(concat(base ? base + 1 : file, ":", line, ": check failed: ", cond, msg.empty() ? "" : ": ", msg));
}

Target::Target(const std::string& name, const std::vector<std::string>& args) {
  int status[2], control[2];
  if (pipe2(status, O_CLOEXEC) != 0 || pipe2(control, O_CLOEXEC) != 0) throw Failure("pipe2 failed");
  std::string path = std::string(COMPEL_TARGET_DIR) + "/" + name;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw Failure("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);  // its own group, so that the whole tree can be killed
    // fd 3: status out, fd 4: control in; nothing else leaks in.
    int s = fcntl(status[1], F_DUPFD, 10), c = fcntl(control[0], F_DUPFD, 10);
    if (s < 0 || c < 0 || dup2(s, 3) < 0 || dup2(c, 4) < 0) _exit(126);
    syscall(SYS_close_range, 5, ~0U, 0);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(status[1]);
  close(control[0]);
  status_fd_ = status[0];
  control_fd_ = control[1];
}

Target::~Target() {
  kill(-pid_, SIGKILL);  // its children too: they would hold our output open
  if (!reaped_) {
    int st;
    waitpid(pid_, &st, 0);
  }
  close(status_fd_);
  close(control_fd_);
}

std::string Target::read_line(int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count());
    CHECK(left > 0, "no line from target ", pid_, " within ", timeout_ms, " ms");
    struct pollfd p = {status_fd_, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    char buf[4096];
    ssize_t n = read(status_fd_, buf, sizeof(buf));
    CHECK(n > 0, "target ", pid_, " closed its status pipe (exited?)");
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

std::vector<std::string> Target::ready(int timeout_ms) {
  std::istringstream words(read_line(timeout_ms));
  std::string w;
  words >> w;
  CHECK(w == "ready", "target ", pid_, " said \"", w, "\" instead of ready");
  std::vector<std::string> out;
  while (words >> w) out.push_back(w);
  return out;
}

void Target::send(const std::string& line) {
  std::string data = line + "\n";
  CHECK(write(control_fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size()), "write to target");
}

int Target::wait_exit(int timeout_ms) {
  int st = 0;
  bool done = wait_until([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, timeout_ms);
  CHECK(done, "target ", pid_, " did not exit within ", timeout_ms, " ms");
  reaped_ = true;
  return st;
}

void Target::expect_success(int timeout_ms) {
  int st = wait_exit(timeout_ms);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "target ", pid_, " failed its self-check (wait status 0x", std::hex,
        st, ")");
}

bool wait_until(const std::function<bool()>& cond, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

char proc_state(pid_t pid, pid_t tid) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid ? tid : pid) + "/stat");
  size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return '?';
  return text[close + 2];
}

std::vector<pid_t> thread_ids(pid_t pid) {
  std::vector<pid_t> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(atoi(e->d_name));
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

pid_t tracer_of(pid_t pid) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/status");
  size_t at = text.find("TracerPid:");
  return at == std::string::npos ? -1 : atoi(text.c_str() + at + 10);
}

std::string observable_state(pid_t pid) {
  std::string p = "/proc/" + std::to_string(pid);
  std::string out = read_text(p + "/maps");
  std::istringstream status(read_text(p + "/status"));
  for (std::string line; std::getline(status, line);)
    // (SigQ counts the signals queued for the whole user: not ours to compare.)
    if ((line.rfind("Sig", 0) == 0 && line.rfind("SigQ", 0) != 0) || line.rfind("ShdPnd", 0) == 0 || line.rfind("Cap", 0) == 0 ||
        line.rfind("Uid", 0) == 0 || line.rfind("Gid", 0) == 0 || line.rfind("Umask", 0) == 0 ||
        line.rfind("Threads", 0) == 0)
      out += line + "\n";
  std::vector<int> fds;
  if (DIR* d = opendir((p + "/fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') fds.push_back(atoi(e->d_name));
    closedir(d);
  }
  std::sort(fds.begin(), fds.end());
  for (int fd : fds) {
    char link[512] = {};
    readlink((p + "/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1);
    std::string info = read_text(p + "/fdinfo/" + std::to_string(fd));
    out += "fd " + std::to_string(fd) + " " + link + "\n" + info;
  }
  return out;
}

std::string line_diff(const std::string& before, const std::string& after) {
  std::istringstream a(before), b(after);
  std::string out, la, lb;
  for (;;) {
    bool ga = static_cast<bool>(std::getline(a, la)), gb = static_cast<bool>(std::getline(b, lb));
    if (!ga && !gb) return out;
    if (la != lb || ga != gb) out += "- " + (ga ? la : "") + "\n+ " + (gb ? lb : "") + "\n";
    la.clear();
    lb.clear();
  }
}

void infect_cycle(pid_t pid, const std::function<void(compel::FrozenTree&, compel::Infection&)>& extra) {
  compel::FrozenTree tree = compel::FrozenTree::seize(pid);
  {
    compel::Infection inf = compel::Infection::infect(tree, pid);
    compel::ProcessInfo info = inf.process_info();
    CHECK(info.sigactions[SIGKILL - 1].handler == 0, "SIGKILL has a handler?");
    if (extra) extra(tree, inf);
    inf.cure();
  }
  tree.release();
}

void reap_orphans() {
  int st;
  while (waitpid(-1, &st, WNOHANG | __WALL) > 0) {
  }
}

void kill_leftovers() {
  for (int round = 0; round < 100; round++) {
    std::vector<pid_t> left;
    for (pid_t tid : thread_ids(getpid())) {
      std::istringstream s(read_text("/proc/self/task/" + std::to_string(tid) + "/children"));
      for (pid_t c; s >> c;) left.push_back(c);
    }
    if (left.empty()) return;
    for (pid_t c : left) kill(c, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    reap_orphans();
  }
}

}  // namespace ctest
