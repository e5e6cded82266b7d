// Helpers of the round trips of the anonymous-inode kinds (eventfd_*,
// timerfd_*, epoll_* ...): their own fdinfo lines, bounded waits on fds.
#pragma once

#include "testlib.h"

#include <fcntl.h>
#include <poll.h>

#include <string>
#include <vector>

namespace rt {

// The lines of /proc/self/fdinfo/FD that start with `prefix`.
inline std::vector<std::string> fdinfo_lines(int fd, const char* prefix) {
  std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  FILE* f = fopen(path.c_str(), "r");
  RT_CHECK(f, "open %s: %s", path.c_str(), strerror(errno));
  std::vector<std::string> out;
  char line[4096];
  while (fgets(line, sizeof(line), f)) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  fclose(f);
  return out;
}

// The value after "key:" of the fdinfo line starting with it, spaces trimmed.
inline std::string fdinfo_value(int fd, const char* key) {
  std::string k = std::string(key) + ":";
  std::vector<std::string> lines = fdinfo_lines(fd, k.c_str());
  RT_CHECK(!lines.empty(), "fd %d has no fdinfo line %s", fd, key);
  std::string v = lines[0].substr(k.size());
  size_t from = v.find_first_not_of(" \t");
  return from == std::string::npos ? "" : v.substr(from);
}

// Whether fd becomes readable within `ms` milliseconds.
inline bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  double deadline = now_seconds() + ms / 1000.0;
  for (;;) {
    int left = int((deadline - now_seconds()) * 1000);
    if (left < 0) left = 0;
    int r = poll(&p, 1, left);
    if (r > 0) return true;
    if (r == 0) return false;
    RT_CHECK(errno == EINTR, "poll: %s", strerror(errno));
  }
}

inline bool nonblocking(int fd) { return fcntl(fd, F_GETFL) & O_NONBLOCK; }

}  // namespace rt
