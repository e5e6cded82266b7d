// Probes of PID control for restore: clone3 set_tid and ns_last_pid.  Both
// act on the PID namespace ckpt runs in, so they work the same on the host
// and inside a container.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "check/child.h"
#include "check/probe.h"
#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::check {
namespace {

constexpr const char* kNsLastPid = "/proc/sys/kernel/ns_last_pid";
constexpr int kAttempts = 8;

long read_long_file(const char* path) {
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error(format("cannot open %s", path));
  char buf[32] = {};
  ssize_t n = read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) throw sys_error(format("cannot read %s", path), n == 0 ? EIO : errno);
  return strtol(buf, nullptr, 10);
}

bool pid_in_use(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

// A PID that is free right now, somewhat above the last one handed out so
// that ordinary forks are unlikely to take it first; `attempt` spreads
// retries apart.
pid_t free_pid_candidate(int attempt) {
  long pid_max = read_long_file("/proc/sys/kernel/pid_max");
  // ns_last_pid has its own probe; without it our own PID is a fair guess.
  long last;
  try {
    last = read_long_file(kNsLastPid);
  } catch (const Error&) {
    last = getpid();
  }
  for (long step = 0; step < 1000; ++step) {
    long pid = last + 100 + attempt * 37 + step;
    pid = 2 + (pid - 2) % (pid_max - 2);
    if (!pid_in_use(static_cast<pid_t>(pid))) return static_cast<pid_t>(pid);
  }
  throw Error("found no free PID near ns_last_pid");
}

// Reaps a child that exits immediately.
void reap(pid_t pid) {
  int status = wait_status(pid, __WALL, kChildWait, "exit");
  if (!WIFEXITED(status)) throw Error(format("child %d did not exit normally", pid));
}

}  // namespace

std::string probe_clone3_set_tid() {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    pid_t wanted = free_pid_candidate(attempt);
    struct clone_args args = {};
    args.exit_signal = SIGCHLD;
    args.set_tid = reinterpret_cast<uintptr_t>(&wanted);
    args.set_tid_size = 1;
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0) _exit(0);
    if (pid < 0 && errno == EEXIST) continue;  // taken since we looked
    if (pid < 0) throw sys_error(format("clone3 with set_tid %d failed", wanted));
    reap(static_cast<pid_t>(pid));
    if (pid != wanted) throw Error(format("clone3 asked for PID %d created PID %ld", wanted, pid));
    return format("created PID %d", wanted);
  }
  throw Error(format("every chosen PID was taken by another process (%d attempts)", kAttempts));
}

std::string probe_ns_last_pid() {
  UniqueFd fd(open(kNsLastPid, O_RDWR | O_CLOEXEC));
  if (!fd) throw sys_error(format("cannot open %s for writing", kNsLastPid));
  // Another process forking between our write and our fork takes the PID
  // first; that is a race, not a failure, so retry a few times.
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    pid_t wanted = free_pid_candidate(attempt);
    std::string value = std::to_string(wanted - 1);
    if (pwrite(fd.get(), value.data(), value.size(), 0) != static_cast<ssize_t>(value.size()))
      throw sys_error(format("cannot write %s to %s", value.c_str(), kNsLastPid));
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) throw sys_error("fork failed");
    reap(pid);
    if (pid == wanted) return format("next PID steered to %d", wanted);
  }
  throw Error(format("writing N to %s never made the next fork get PID N+1 (%d attempts)", kNsLastPid,
                     kAttempts));
}

}  // namespace ckpt::check
