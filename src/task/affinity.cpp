#include "task/affinity.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::task {

namespace {

// Room for 8192 CPUs, more than a kernel can have (NR_CPUS).
constexpr size_t kMaskBytes = 1024;

// The raw call: it returns how many bytes of mask the kernel wrote.
std::string get_mask(pid_t tid, int& err) {
  std::string mask(kMaskBytes, '\0');
  long n = syscall(SYS_sched_getaffinity, tid, mask.size(), mask.data());
  if (n < 0) {
    err = errno;
    return {};
  }
  mask.resize(size_t(n));
  return mask;
}

bool has(const std::string& mask, size_t cpu) {
  return cpu / 8 < mask.size() && (uint8_t(mask[cpu / 8]) >> (cpu % 8) & 1);
}

// a minus b.
std::string without(const std::string& a, const std::string& b) {
  std::string out(a.size(), '\0');
  for (size_t i = 0; i < a.size(); i++) out[i] = char(uint8_t(a[i]) & ~(i < b.size() ? uint8_t(b[i]) : 0));
  return out;
}

bool empty(const std::string& mask) { return mask.find_first_not_of('\0') == std::string::npos; }

}  // namespace

std::string cpu_list(const std::string& mask) {
  std::string out;
  size_t n = mask.size() * 8;
  for (size_t i = 0; i < n; i++) {
    if (!has(mask, i)) continue;
    size_t j = i;
    while (j + 1 < n && has(mask, j + 1)) j++;
    if (!out.empty()) out += ",";
    out += j > i ? format("%zu-%zu", i, j) : format("%zu", i);
    i = j;
  }
  return out.empty() ? "none" : out;
}

std::string read_affinity(pid_t pid, pid_t tid) {
  int err = 0;
  std::string mask = get_mask(tid, err);
  if (err) throw sys_error(format("cannot read the CPU affinity of thread %d of pid %d", tid, pid), err);
  return mask;
}

void apply_affinity(pid_t pid, pid_t tid, const std::string& want) {
  // What the thread may have here, before it is narrowed: its cpuset's
  // CPUs, which ckpt's tasks inherit.
  int err = 0;
  std::string before = get_mask(tid, err);
  if (err) throw sys_error(format("cannot read the CPU affinity of restored thread %d of pid %d", tid, pid), err);
  if (syscall(SYS_sched_setaffinity, tid, want.size(), want.data()) < 0) {
    err = errno;
    if (err == EINVAL)
      throw Error(format("cannot restore thread %d of pid %d: it was bound to CPUs %s, none of which it may use on "
                         "this machine (it could use %s)",
                         tid, pid, cpu_list(want).c_str(), cpu_list(before).c_str()));
    throw sys_error(format("cannot restore thread %d of pid %d: cannot bind it to CPUs %s", tid, pid,
                           cpu_list(want).c_str()),
                    err);
  }
  std::string got = get_mask(tid, err);
  if (err) throw sys_error(format("cannot read the CPU affinity of restored thread %d of pid %d", tid, pid), err);
  std::string lost = without(want, got);
  bool unpinned = empty(without(before, want));  // it had every CPU it can have here
  if (!empty(lost) && !unpinned)
    LOG_WARN("thread %d of pid %d was bound to CPUs %s; %s are not available here, it runs on %s", tid, pid,
             cpu_list(want).c_str(), cpu_list(lost).c_str(), cpu_list(got).c_str());
  LOG_DEBUG("thread %d of pid %d: CPUs %s", tid, pid, cpu_list(got).c_str());
}

}  // namespace ckpt::task
