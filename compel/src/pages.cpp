// Memory out of the target without copying through compel: the parasite
// vmsplice(2)s the ranges into a pipe it made, compel holds the pipe's read
// end (pidfd_getfd) and splices it into the output while the parasite is
// still filling it; a full pipe just makes the parasite wait, and gives up
// once compel's control socket closes.
#include <fcntl.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "infect.h"

namespace compel {

namespace {

constexpr int kPipeSize = 1 << 20;

// Moves whatever the pipe holds into out_fd without blocking on the pipe.
class Drain {
 public:
  Drain(int pipe_fd, int out_fd, pid_t pid) : pipe_(pipe_fd), out_(out_fd), pid_(pid) {}

  // Bytes moved now; 0 if the pipe is empty.
  uint64_t run() {
    uint64_t moved = 0;
    for (;;) {
      ssize_t n = use_splice_ ? ::splice(pipe_, nullptr, out_, nullptr, kPipeSize, SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
                              : copy();
      if (n > 0) {
        moved += static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0 || errno == EAGAIN) return moved;
      if (errno == EINTR) continue;
      if (use_splice_ && errno == EINVAL) {  // e.g. an O_APPEND output
        use_splice_ = false;
        continue;
      }
      throw Error("cannot write the memory of pid " + std::to_string(pid_) + ": " + std::strerror(errno));
    }
  }

 private:
  ssize_t copy() {
    char buf[65536];
    ssize_t n = ::read(pipe_, buf, sizeof(buf));
    if (n <= 0) return n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out_, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return -1;
      done += w;
    }
    return n;
  }

  int pipe_, out_;
  pid_t pid_;
  bool use_splice_ = true;
};

}  // namespace

int Infection::Impl::get_pidfd() {
  if (pidfd) return pidfd.get();
  // PIDFD_THREAD (Linux 6.9): a pidfd of that very thread, whose file
  // table pidfd_getfd then reads.
  constexpr unsigned kPidfdThread = O_EXCL;
  pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, main_tid, main_tid == pid ? 0u : kPidfdThread)));
  if (!pidfd) {
    if (main_tid != pid)
      throw Error("cannot open a pidfd of thread " + std::to_string(main_tid) + " of " + who() +
                  " (its main thread has exited; this needs PIDFD_THREAD, Linux 6.9): " + std::strerror(errno));
    throw Error("cannot open a pidfd of " + who() + ": " + std::strerror(errno));
  }
  return pidfd.get();
}

void Infection::Impl::open_pipe() {
  if (pipe) return;
  int process_fd = get_pidfd();
  const parasite_pipe& p = run(PARASITE_CMD_PIPE_OPEN, 0, sizeof(parasite_pipe)).u.pipe;
  remote_pipe[0] = p.rfd;
  remote_pipe[1] = p.wfd;
  int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, process_fd, p.rfd, 0));
  if (fd < 0) throw Error("cannot take the parasite's pipe from " + who() + ": " + std::strerror(errno));
  pipe.reset(fd);
  // The pipe is compel's alone: non-blocking reads, and as large as allowed.
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  ::fcntl(fd, F_SETPIPE_SZ, kPipeSize);
}

uint64_t Infection::Impl::splice_batch(uint32_t nr, int out_fd, const std::function<void(uint64_t)>& progress) {
  args->u.vmsplice.wfd = remote_pipe[1];
  args->u.vmsplice.nr = nr;
  args->u.vmsplice.spliced = 0;
  send_command(PARASITE_CMD_VMSPLICE, offsetof(parasite_vmsplice, iov) + nr * sizeof(parasite_iov));
  Drain drain(pipe.get(), out_fd, pid);
  uint64_t drained = 0;
  auto deadline = tree->deadline();
  int64_t ret = 0;
  for (;;) {
    uint64_t moved = drain.run();
    if (moved) {
      drained += moved;
      if (progress) progress(moved);
      deadline = tree->deadline();  // the bound is on progress, not on size
    }
    if (poll_answer(0, ret)) break;
    if (moved) continue;
    if (deadline.passed()) throw Error("parasite command VMSPLICE in " + who() + " made no progress in time");
    pollfd fds[2] = {{pipe.get(), POLLIN, 0}, {control.fd(), POLLIN, 0}};
    ::poll(fds, 2, 10);
  }
  uint64_t rest = drain.run();
  drained += rest;
  if (progress && rest) progress(rest);
  const parasite_args& res = finish_command(PARASITE_CMD_VMSPLICE, ret, offsetof(parasite_vmsplice, iov));
  if (res.u.vmsplice.spliced != drained)
    throw Error("memory of " + who() + ": the parasite spliced " + std::to_string(res.u.vmsplice.spliced) +
                " bytes but " + std::to_string(drained) + " came out of the pipe");
  return drained;
}

uint64_t Infection::splice_pages(const std::vector<Range>& ranges, int out_fd,
                                 const std::function<void(uint64_t)>& progress) {
  if (!impl_ || !impl_->tree) throw Error("the infection is already cured");
  Impl& m = *impl_;
  m.open_pipe();
  uint64_t total = 0;
  for (size_t first = 0; first < ranges.size(); first += PARASITE_MAX_IOVS) {
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(ranges.size() - first, PARASITE_MAX_IOVS));
    for (uint32_t i = 0; i < n; i++) m.args->u.vmsplice.iov[i] = {ranges[first + i].start, ranges[first + i].len};
    total += m.splice_batch(n, out_fd, progress);
  }
  return total;
}

}  // namespace compel
