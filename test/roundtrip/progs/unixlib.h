// Helpers of the unix socket round trips (unix_*.cpp).
#pragma once

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

#include "testlib.h"

namespace ux {

// A sockaddr_un for `name`: a path, or an abstract name when it starts with '@'.
inline socklen_t addr(const std::string& name, sockaddr_un& a) {
  a = sockaddr_un{};
  a.sun_family = AF_UNIX;
  bool abstract = name[0] == '@';
  memcpy(a.sun_path, name.data(), name.size());
  if (abstract) a.sun_path[0] = '\0';
  return socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));
}

// The name as ux::addr takes it ('@' for abstract), "" for unnamed.
inline std::string name_of(const sockaddr_un& a, socklen_t len) {
  size_t off = offsetof(sockaddr_un, sun_path);
  if (len <= off) return "";
  std::string n(a.sun_path, len - off);
  if (n[0] == '\0') n[0] = '@';
  else n = n.c_str();
  return n;
}

inline std::string sock_name(int fd) {
  sockaddr_un a{};
  socklen_t len = sizeof(a);
  RT_CHECK(getsockname(fd, (sockaddr*)&a, &len) == 0, "getsockname: %s", strerror(errno));
  return name_of(a, len);
}

inline std::string peer_name(int fd) {
  sockaddr_un a{};
  socklen_t len = sizeof(a);
  RT_CHECK(getpeername(fd, (sockaddr*)&a, &len) == 0, "getpeername: %s", strerror(errno));
  return name_of(a, len);
}

inline int bound(int type, const std::string& name) {
  int fd = socket(AF_UNIX, type, 0);
  RT_CHECK(fd >= 0, "socket");
  sockaddr_un a;
  socklen_t len = addr(name, a);
  RT_CHECK(bind(fd, (sockaddr*)&a, len) == 0, "bind %s: %s", name.c_str(), strerror(errno));
  return fd;
}

inline void connect_to(int fd, const std::string& name) {
  sockaddr_un a;
  socklen_t len = addr(name, a);
  RT_CHECK(connect(fd, (sockaddr*)&a, len) == 0, "connect %s: %s", name.c_str(), strerror(errno));
}

inline void send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    RT_CHECK(n > 0, "send: %s", strerror(errno));
    done += size_t(n);
  }
}

inline void send_msg(int fd, const std::string& data) {
  RT_CHECK(send(fd, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size()), "send %zu bytes: %s",
           data.size(), strerror(errno));
}

// One message, waiting for it at most 10 s.
inline std::string recv_msg(int fd, std::string* from = nullptr) {
  char buf[65536];
  sockaddr_un a{};
  socklen_t len = sizeof(a);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t n;
  // With a timeout, a dump's freeze interrupts the wait (EINTR).
  do n = recvfrom(fd, buf, sizeof(buf), 0, (sockaddr*)&a, &len);
  while (n < 0 && errno == EINTR);
  RT_CHECK(n >= 0, "recv: %s", strerror(errno));
  if (from) *from = name_of(a, len);
  return std::string(buf, size_t(n));
}

// Exactly `n` bytes of a stream (10 s at most), or fewer at its end.
inline std::string recv_exact(int fd, size_t n) {
  std::string out;
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[65536];
  while (out.size() < n) {
    ssize_t got = recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (got < 0 && errno == EINTR) continue;  // a freeze, with a timeout set
    RT_CHECK(got >= 0, "recv: %s", strerror(errno));
    if (got == 0) break;
    out.append(buf, size_t(got));
  }
  return out;
}

// accept(2) of a connection that must be there: within 10 s.
inline int accept_within(int listener) {
  pollfd p{listener, POLLIN, 0};
  int r;
  do r = poll(&p, 1, 10000);
  while (r < 0 && errno == EINTR);
  RT_CHECK(r == 1, "no connection to accept within 10 s");
  int fd = accept(listener, nullptr, nullptr);
  RT_CHECK(fd >= 0, "accept: %s", strerror(errno));
  return fd;
}

inline std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = char('a' + (i * 7 + seed) % 26);
  return s;
}

}  // namespace ux
