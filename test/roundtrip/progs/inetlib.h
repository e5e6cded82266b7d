// What the inet round trips share: making sockets, reading their options
// and addresses, and asking the kernel (NETLINK_SOCK_DIAG) for what no
// getsockopt shows, the backlog of a listening socket.  Each test runs in a
// network namespace of its own, so the ports are fixed.
#pragma once

#include "testlib.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <string>

namespace rt::inet {

inline int udp_socket(int family) {
  int fd = socket(family, SOCK_DGRAM, 0);
  RT_CHECK(fd >= 0, "socket: %s", strerror(errno));
  return fd;
}

inline int getopt_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  RT_CHECK(getsockopt(fd, level, name, &v, &len) == 0, "getsockopt(%d, %d) on fd %d: %s", level, name, fd,
           strerror(errno));
  return v;
}

inline void setopt_int(int fd, int level, int name, int v) {
  RT_CHECK(setsockopt(fd, level, name, &v, sizeof(v)) == 0, "setsockopt(%d, %d, %d) on fd %d: %s", level, name, v,
           fd, strerror(errno));
}

inline sockaddr_storage address(int family, const char* text, int port, socklen_t* len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(uint16_t(port));
    RT_CHECK(inet_pton(AF_INET, text, &in->sin_addr) == 1, "bad address %s", text);
    *len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(uint16_t(port));
    RT_CHECK(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1, "bad address %s", text);
    *len = sizeof(*in6);
  }
  return ss;
}

inline void bind_to(int fd, int family, const char* addr, int port) {
  socklen_t len;
  sockaddr_storage ss = address(family, addr, port, &len);
  RT_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0, "bind fd %d to %s port %d: %s", fd, addr, port,
           strerror(errno));
}

inline void connect_to(int fd, int family, const char* addr, int port) {
  socklen_t len;
  sockaddr_storage ss = address(family, addr, port, &len);
  RT_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0, "connect fd %d to %s port %d: %s", fd, addr,
           port, strerror(errno));
}

// "127.0.0.1:8080" of a sockaddr.
inline std::string text_of(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    port = ntohs(in6->sin6_port);
  } else {
    return "family " + std::to_string(ss.ss_family);
  }
  return std::string(buf) + ":" + std::to_string(port);
}

inline std::string local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  RT_CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0, "getsockname fd %d", fd);
  return text_of(ss);
}

inline std::string peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "none";
  return text_of(ss);
}

inline int tcp_state(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  RT_CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0, "TCP_INFO fd %d", fd);
  return info.tcpi_state;
}

// A connection to (family, addr, port) accepted on `listener`, one byte
// each way, then closed by the client first (its TIME_WAIT is on the
// client's port, not the listener's).
inline void exchange(int listener, int family, const char* addr, int port) {
  int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  RT_CHECK(c >= 0, "socket");
  connect_to(c, family, addr, port);
  // (Before the accept: a listener with TCP_DEFER_ACCEPT waits for data.)
  RT_CHECK(write(c, "?", 1) == 1, "client write");
  int flags = fcntl(listener, F_GETFL);
  fcntl(listener, F_SETFL, flags & ~O_NONBLOCK);
  int a = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  fcntl(listener, F_SETFL, flags);
  RT_CHECK(a >= 0, "accept on %s port %d: %s", addr, port, strerror(errno));
  char ch = 0;
  RT_CHECK(read(a, &ch, 1) == 1 && ch == '?', "server read");
  RT_CHECK(write(a, "!", 1) == 1, "server write");
  RT_CHECK(read(c, &ch, 1) == 1 && ch == '!', "client read");
  close(c);
  RT_CHECK(read(a, &ch, 1) == 0, "server sees no EOF");
  close(a);
}

// The backlog the kernel keeps for the listening socket `fd` (sock_diag's
// idiag_wqueue), -1 if it is not listed.
inline int listen_backlog(int fd) {
  struct stat st;
  RT_CHECK(fstat(fd, &st) == 0, "fstat");
  int sk = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  RT_CHECK(sk >= 0, "NETLINK_SOCK_DIAG socket");
  int family = getopt_int(fd, SOL_SOCKET, SO_DOMAIN);
  struct {
    nlmsghdr h;
    inet_diag_req_v2 r;
  } req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = uint8_t(family);
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = 1u << TCP_LISTEN;
  RT_CHECK(send(sk, &req, sizeof(req), 0) == ssize_t(sizeof(req)), "sock_diag send");
  int found = -1;
  static char buf[64 * 1024];
  for (bool done = false; !done;) {
    ssize_t n = recv(sk, buf, sizeof(buf), 0);
    RT_CHECK(n > 0, "sock_diag recv");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      if (m->idiag_inode == st.st_ino) found = int(m->idiag_wqueue);
    }
  }
  close(sk);
  return found;
}

}  // namespace rt::inet
