#include "control.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "compel/compel.h"

namespace compel::detail {

namespace {

std::string who(pid_t pid) { return "pid " + std::to_string(pid); }

ino_t net_ns_inode(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

// A listening socket on `addr`, made in the calling thread's namespace.
int listen_on(const sockaddr_un& addr, socklen_t len, int& err) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || ::listen(fd, 1) != 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ControlSocket ControlSocket::listen_for(pid_t pid, pid_t tid) {
  ControlSocket s;
  s.pid_ = pid;
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  char name[96];
  int n = std::snprintf(name, sizeof(name), "ckpt-parasite/%d/%d/%u/%08x", static_cast<int>(::getpid()),
                        static_cast<int>(pid), counter++, rd());
  s.addr_.sun_family = AF_UNIX;
  s.addr_.sun_path[0] = '\0';  // abstract: nothing in any file system
  std::memcpy(s.addr_.sun_path + 1, name, static_cast<size_t>(n));
  s.addr_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);

  // Abstract names belong to a network namespace: listen in the target's.
  // (Through the thread: a process whose leader has exited shows no ns.)
  std::string target_ns = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/ns/net";
  int err = 0, fd = -1;
  if (net_ns_inode(target_ns) == net_ns_inode("/proc/self/ns/net")) {
    fd = listen_on(s.addr_, s.addr_len_, err);
  } else {
    // setns changes the calling thread only: a thread of its own does it.
    std::thread helper([&] {
      ckpt::UniqueFd ns(::open(target_ns.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      fd = listen_on(s.addr_, s.addr_len_, err);
    });
    helper.join();
  }
  if (fd < 0)
    throw Error("cannot infect " + who(pid) + ": cannot listen for its parasite: " + std::strerror(err));
  s.listener_.reset(fd);
  return s;
}

int ControlSocket::accept_parasite(pid_t pid, Deadline deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at - Clock::now()).count();
    if (left <= 0) throw Error("the parasite in " + who(pid) + " did not connect in time");
    pollfd p{listener_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r < 0 && errno != EINTR) throw Error("waiting for the parasite of " + who(pid) + ": " + std::strerror(errno));
    if (r <= 0) continue;
    ckpt::UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) continue;
    ucred cred{};
    socklen_t len = sizeof(cred);
    // Anyone in the namespace may connect to an abstract name: only the
    // target's own parasite is taken.
    if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid != pid) continue;
    conn_ = std::move(c);
    listener_.reset();
    int64_t greeting = 0;
    for (;;) {
      if (poll_answer(0, 100, greeting)) return static_cast<int>(greeting);
      if (deadline.passed()) throw Error("the parasite in " + who(pid) + " did not greet in time");
    }
  }
}

void ControlSocket::send(uint32_t cmd, uint32_t seq) {
  parasite_msg m{cmd, seq, 0};
  ssize_t n;
  do n = ::send(conn_.get(), &m, sizeof(m), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(m)))
    throw Error("cannot send a command to the parasite in " + who(pid_) + ": " +
                (n < 0 ? std::strerror(errno) : "short write"));
}

bool ControlSocket::poll_answer(uint32_t seq, int timeout_ms, int64_t& ret) {
  pollfd p{conn_.get(), POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r < 0 && errno == EINTR) return false;
  if (r < 0) throw Error("waiting for the parasite in " + who(pid_) + ": " + std::strerror(errno));
  if (r == 0) return false;
  parasite_msg m{};
  ssize_t n = ::recv(conn_.get(), &m, sizeof(m), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (n != static_cast<ssize_t>(sizeof(m)))
    throw Error("the parasite in " + who(pid_) + " went away" + (n < 0 ? std::string(": ") + std::strerror(errno) : ""));
  if (m.seq != seq)
    throw Error("the parasite in " + who(pid_) + " answered command " + std::to_string(m.seq) + " instead of " +
                std::to_string(seq));
  ret = m.ret;
  return true;
}

}  // namespace compel::detail
