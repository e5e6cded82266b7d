#include "proc/read.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::proc {

std::string path(pid_t pid, const std::string& name) { return "/proc/" + std::to_string(pid) + "/" + name; }

std::string read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot read " + path);
  std::string text;
  // /proc files report a size of 0: read until EOF in page-sized steps.
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw sys_error("cannot read " + path);
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
  }
  return text;
}

std::string read_link(const std::string& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) throw sys_error("cannot read link " + path);
    if (size_t(n) < target.size()) {
      target.resize(size_t(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

namespace {

std::vector<int> list_numbers(const std::string& dir_path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(dir_path.c_str()), closedir);
  if (!dir) throw sys_error("cannot list " + dir_path);
  std::vector<int> numbers;
  while (dirent* e = readdir(dir.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    numbers.push_back(std::stoi(e->d_name));
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

}  // namespace

std::vector<int> list_fds(pid_t pid) { return list_numbers(path(pid, "fd")); }

std::vector<pid_t> list_threads(pid_t pid) {
  std::vector<int> tids = list_numbers(path(pid, "task"));
  return {tids.begin(), tids.end()};
}

}  // namespace ckpt::proc
