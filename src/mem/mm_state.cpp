#include "mem/mm_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "ckpt/error.h"
#include "proc/read.h"

namespace ckpt::mem {

void read_mm_state(pid_t pid, img::MmEntry& mm) {
  std::string path = proc::path(pid, "coredump_filter");
  std::string filter = proc::read_file(path);
  char* end = nullptr;
  unsigned long v = std::strtoul(filter.c_str(), &end, 16);
  if (end == filter.c_str()) throw Error("cannot parse " + path + ": " + filter);
  mm.set_coredump_filter(uint32_t(v));
}

void apply_mm_state(pid_t pid, const img::MmEntry& mm) {
  if (mm.has_coredump_filter()) {
    int fd = ::open("/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
    std::string v = format("0x%x", mm.coredump_filter());  // the kernel reads it in base 0
    bool ok = fd >= 0 && write(fd, v.data(), v.size()) == ssize_t(v.size());
    if (fd >= 0) close(fd);
    if (!ok) throw sys_error(format("cannot restore pid %d: cannot set its coredump_filter to %s", pid, v.c_str()));
  }
}

}  // namespace ckpt::mem
