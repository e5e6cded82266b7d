#include "task/autogroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"

namespace ckpt::task {

std::optional<int> read_autogroup_nice(pid_t pid) {
  std::string path = proc::path(pid, "autogroup");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw sys_error(format("cannot read %s of pid %d", path.c_str(), pid));
  }
  char buf[128] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int err = errno;
  close(fd);
  if (n < 0) throw sys_error(format("cannot read %s of pid %d", path.c_str(), pid), err);
  long id;
  int nice;
  if (n == 0 || sscanf(buf, "/autogroup-%ld nice %d", &id, &nice) != 2) return std::nullopt;
  return nice;
}

void apply_autogroup_nice(pid_t pid, int nice) {
  std::string path = proc::path(pid, "autogroup");
  std::string value = std::to_string(nice);
  // Without CAP_SYS_ADMIN the kernel takes one such write every 100 ms
  // (EAGAIN in between): a bounded retry.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : write(fd, value.data(), value.size());
    int err = errno;
    if (fd >= 0) close(fd);
    if (n == ssize_t(value.size())) break;
    if (err != EAGAIN || std::chrono::steady_clock::now() > until)
      throw sys_error(format("cannot restore pid %d: cannot give its session's autogroup nice %d", pid, nice), err);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  LOG_DEBUG("pid %d: its session's autogroup has nice %d", pid, nice);
}

void check_autogroup_nice(pid_t pid, int want, bool own_session) {
  std::optional<int> got = read_autogroup_nice(pid);
  if (got.value_or(0) == want) return;
  if (own_session)
    throw Error(format("cannot restore pid %d: its session's autogroup had nice %d, and the restored session's has "
                       "nice %d",
                       pid, want, got.value_or(0)));
  throw Error(format("cannot restore pid %d: its session's autogroup had nice %d, and the autogroup it is restored "
                     "into (ckpt's session's) has nice %d, which ckpt does not change (dump the session's leader "
                     "with it to give the session an autogroup of its own)",
                     pid, want, got.value_or(0)));
}

}  // namespace ckpt::task
