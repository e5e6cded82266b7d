#include "check/isolate.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/unique_fd.h"

namespace ckpt::check {
namespace {

// Exit codes of the probe child.
constexpr int kProbeOk = 0;
constexpr int kProbeMissing = 1;

// The verdict travels over a pipe; a reason longer than this is cut.
constexpr size_t kMaxMessage = 4096;

[[noreturn]] void finish_child(int fd, int code, const std::string& message) {
  size_t len = std::min(message.size(), kMaxMessage);
  // A short write only shortens the message; nothing else to do about it.
  [[maybe_unused]] ssize_t n = ::write(fd, message.data(), len);
  _exit(code);
}

[[noreturn]] void run_child(int fd, ProbeBody body) {
  try {
    finish_child(fd, kProbeOk, body());
  } catch (const std::exception& e) {
    finish_child(fd, kProbeMissing, e.what());
  } catch (...) {
    finish_child(fd, kProbeMissing, "the probe failed with an unknown exception");
  }
}

std::string read_message(int fd) {
  std::string out;
  char buf[512];
  ssize_t n;
  while (out.size() < kMaxMessage && (n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  return out;
}

Outcome verdict(int status, std::string message) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeOk) return {true, std::move(message)};
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeMissing) return {false, std::move(message)};
  if (WIFSIGNALED(status))
    return {false, format("the probe crashed (%s)", strsignal(WTERMSIG(status)))};
  return {false, format("the probe exited with status %d", WEXITSTATUS(status))};
}

// Helpers of a killed probe die with it (PR_SET_PDEATHSIG) and are handed to
// us as their subreaper; collect them so none is left as a zombie.
void reap_descendants() {
  auto deadline = std::chrono::steady_clock::now() + kChildWait;
  for (;;) {
    int status;
    pid_t r = waitpid(-1, &status, __WALL | WNOHANG);
    if (r < 0 && errno == ECHILD) return;
    if (r > 0) continue;
    if (std::chrono::steady_clock::now() >= deadline) {
      LOG_WARN("some probe helper processes are still running");
      return;
    }
    usleep(1000);
  }
}

}  // namespace

void become_reaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) LOG_WARN("cannot become a child subreaper: %m");
}

Outcome run_isolated(ProbeBody body, Millis timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw sys_error("cannot create a pipe for a probe");
  UniqueFd rd(fds[0]), wr(fds[1]);
  // Nothing buffered may be printed twice by the child.
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw sys_error("cannot fork a probe");
  if (pid == 0) {
    die_with_parent(parent);
    rd.reset();
    run_child(wr.get(), body);
  }
  wr.reset();
  // Helpers may hold the write end open after the probe exited.
  fcntl(rd.get(), F_SETFL, O_NONBLOCK);

  int status = 0;
  Outcome out;
  if (try_wait_status(pid, __WALL, timeout, status)) {
    out = verdict(status, read_message(rd.get()));
  } else {
    kill(pid, SIGKILL);
    try_wait_status(pid, __WALL, kChildWait, status);
    out = {false, format("the probe hung and was killed after %lld ms",
                         static_cast<long long>(timeout.count()))};
  }
  reap_descendants();
  return out;
}

}  // namespace ckpt::check
