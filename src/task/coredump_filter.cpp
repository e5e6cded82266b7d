#include "task/coredump_filter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"

namespace ckpt::task {

namespace {

std::optional<uint32_t> parse(pid_t pid, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw sys_error(format("cannot read %s of pid %d", path.c_str(), pid));
  }
  char buf[32] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int err = errno;
  close(fd);
  if (n <= 0) throw sys_error(format("cannot read %s of pid %d", path.c_str(), pid), n < 0 ? err : EIO);
  return uint32_t(std::stoul(buf, nullptr, 16));  // "%08lx\n"
}

}  // namespace

std::optional<uint32_t> read_coredump_filter(pid_t pid) {
  return parse(pid, proc::path(pid, "coredump_filter"));
}

void apply_coredump_filter(pid_t pid, uint32_t want) {
  std::string path = proc::path(pid, "coredump_filter");
  std::string value = format("0x%x", want);
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, value.data(), value.size()) != ssize_t(value.size())) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw sys_error(format("cannot restore pid %d: cannot write its coredump_filter %s", pid, value.c_str()), err);
  }
  close(fd);
  std::optional<uint32_t> got = parse(pid, path);
  if (got != want)
    throw Error(format("cannot restore pid %d: its coredump_filter was written %s and reads %x", pid, value.c_str(),
                       got.value_or(0)));
  LOG_DEBUG("pid %d: coredump_filter %s", pid, value.c_str());
}

}  // namespace ckpt::task
