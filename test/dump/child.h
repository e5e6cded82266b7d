// A child process for the dump tests: its fds reset, set up by the test,
// handshaking over a pipe, reaped at the end.
#pragma once

#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "proc/read.h"

namespace ckpt::test {

inline constexpr int kReadyFd = 100;  // the child's end of the handshake pipe
inline constexpr int kPingFd = 101;   // the child reads pings here (failure tests only)
inline constexpr int kRefusedFd = 102;  // where refusal tests put an fd of a kind ckpt refuses

// An io_uring instance at fd `at`, in a child's setup: a kind ckpt refuses.
inline void make_io_uring(int at) {
  io_uring_params params{};
  int fd = int(syscall(SYS_io_uring_setup, 4, &params));
  if (fd < 0 || dup2(fd, at) != at) _exit(5);
  close(fd);
}

// Waits for `fd` to be readable; false after `ms`.
inline bool wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

// Waits for the child to end; returns its wait status, or -1 after 10 s.
inline int reap(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// A child of the test: `setup` runs in it after its fds are reset (0 is
// /dev/null, 1 and 2 a log file, kReadyFd the handshake); it then reports
// ready and waits for signals, answering each byte on kPingFd.
class Child {
 public:
  Child(const std::string& dir, std::function<void()> setup, bool keep_pipes = false) {
    int ready[2], ping[2];
    if (pipe(ready) < 0 || pipe(ping) < 0) throw sys_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw sys_error("fork");
    if (pid_ == 0) run(dir, setup, keep_pipes, ready[1], ping[0]);
    close(ready[1]);
    close(ping[0]);
    ready_.reset(ready[0]);
    ping_.reset(ping[1]);
    char c = 0;
    if (!wait_readable(ready_.get(), 10000) || read(ready_.get(), &c, 1) != 1 || c != 'R')
      throw Error("the child did not get ready");
    // Ready means its pipe ends are closed too, unless it keeps them.
    if (!keep_pipes && (!wait_readable(ready_.get(), 10000) || read(ready_.get(), &c, 1) != 0))
      throw Error("the child did not close its pipes");
    // ... and that it sleeps in pause(), done touching its memory (the
    // first call of pause() alone binds its symbol).
    if (!keep_pipes && !sleeps_in(SYS_pause)) throw Error("the child did not reach pause()");
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(pid_);
    }
  }
  pid_t pid() const { return pid_; }
  // Sends a byte and waits for the echo: the child runs as before.
  bool answers_ping() {
    char c = 'P';
    if (write(ping_.get(), &c, 1) != 1) return false;
    return wait_readable(ready_.get(), 5000) && read(ready_.get(), &c, 1) == 1 && c == 'P';
  }
  // Whether the child is blocked in syscall `nr` within 10 s.
  bool sleeps_in(long nr) {
    std::string want = std::to_string(nr) + " ";
    for (int i = 0; i < 1000; ++i) {
      if (proc::read_file(proc::path(pid_, "syscall")).starts_with(want)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  int wait_end() {
    int status = reap(pid_);
    if (status != -1) pid_ = -1;
    return status;
  }
  // Whether the child is gone after `ms`.  A dump's kill() reaps it itself:
  // ptrace made the test its tracer as well as its parent.
  bool ends_within(int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      int status;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD && ::kill(pid_, 0) < 0)) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  [[noreturn]] static void run(const std::string& dir, const std::function<void()>& setup, bool keep_pipes,
                               int ready, int ping) {
    dup2(ready, kReadyFd);
    dup2(ping, kPingFd);
    syscall(SYS_close_range, 3, kReadyFd - 1, 0);
    syscall(SYS_close_range, kPingFd + 1, ~0u, 0);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    int log = open((dir + "/child.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(log, 1);
    dup2(log, 2);
    if (null > 2) close(null);
    if (log > 2) close(log);
    setup();
    char c = 'R';
    if (write(kReadyFd, &c, 1) != 1) _exit(2);
    if (!keep_pipes) {
      close(kPingFd);
      close(kReadyFd);  // the parent sees EOF: the child is ready
      for (;;) pause();
    }
    while (read(kPingFd, &c, 1) == 1) write(kReadyFd, &c, 1);
    _exit(0);
  }

  pid_t pid_ = -1;
  UniqueFd ready_, ping_;
};

}  // namespace ckpt::test
