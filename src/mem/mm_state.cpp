#include "mem/mm_state.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "ckpt/error.h"
#include "proc/read.h"

namespace ckpt::mem {

namespace {

constexpr int kPrSetMemoryMerge = 67;  // PR_SET_MEMORY_MERGE (Linux 6.4)

// The "ksm_merge_any: yes" line of ksm_stat.
bool merge_any(const std::string& ksm_stat) {
  size_t at = ksm_stat.find("ksm_merge_any:");
  return at != std::string::npos && ksm_stat.compare(ksm_stat.find_first_not_of(' ', at + 14), 3, "yes") == 0;
}

}  // namespace

void read_mm_state(pid_t pid, img::MmEntry& mm) {
  std::string path = proc::path(pid, "coredump_filter");
  std::string filter = proc::read_file(path);
  char* end = nullptr;
  unsigned long v = std::strtoul(filter.c_str(), &end, 16);
  if (end == filter.c_str()) throw Error("cannot parse " + path + ": " + filter);
  mm.set_coredump_filter(uint32_t(v));
  std::string ksm = proc::path(pid, "ksm_stat");
  if (access(ksm.c_str(), R_OK) == 0 && merge_any(proc::read_file(ksm))) mm.set_ksm_merge_any(true);
}

void apply_mm_state(pid_t pid, const img::MmEntry& mm) {
  if (mm.has_coredump_filter()) {
    int fd = ::open("/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
    std::string v = format("0x%x", mm.coredump_filter());  // the kernel reads it in base 0
    bool ok = fd >= 0 && write(fd, v.data(), v.size()) == ssize_t(v.size());
    if (fd >= 0) close(fd);
    if (!ok) throw sys_error(format("cannot restore pid %d: cannot set its coredump_filter to %s", pid, v.c_str()));
  }
  // Before the blob maps the areas: every one of them is then mergeable.
  if (mm.ksm_merge_any() && prctl(kPrSetMemoryMerge, 1, 0, 0, 0) != 0)
    throw sys_error(format("cannot restore pid %d: PR_SET_MEMORY_MERGE (KSM for all its memory) failed", pid));
}

}  // namespace ckpt::mem
