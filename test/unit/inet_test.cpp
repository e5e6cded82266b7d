// The socket pieces of the inet and netlink modules: what a socket is
// named in refusals (from our duplicate and from /proc alone), socket
// options read and set again on a new socket, and the kernel's socket
// diagnostics on sockets of this very process.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "files/inet_diag.h"
#include "files/open_fd.h"
#include "files/socket_kind.h"
#include "files/socket_options.h"

using namespace ckpt;

namespace {

UniqueFd make(int family, int type, int protocol = 0) {
  UniqueFd fd(socket(family, type | SOCK_CLOEXEC, protocol));
  EXPECT_TRUE(fd) << strerror(errno);
  return fd;
}

// kind_name() of `fd` as the pre-flight sees it (/proc only) and as the
// dump does (with a duplicate).
std::pair<std::string, std::string> names_of(int fd) {
  files::OpenFd from_proc = files::describe_fd_from_proc(getpid(), fd);
  files::OpenFd with_dup = files::describe_fd(getpid(), fd, UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
  return {files::kind_name(from_proc), files::kind_name(with_dup)};
}

int get_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  EXPECT_EQ(getsockopt(fd, level, name, &v, &len), 0) << level << "/" << name << ": " << strerror(errno);
  return v;
}

void set_int(int fd, int level, int name, int v) {
  ASSERT_EQ(setsockopt(fd, level, name, &v, sizeof(v)), 0) << level << "/" << name << ": " << strerror(errno);
}

}  // namespace

TEST(InetSocketKind, SocketsAreNamedByFamilyAndProtocol) {
  struct Case {
    int family, type, protocol;
    const char* name;
  } cases[] = {
      {AF_INET, SOCK_STREAM, 0, "AF_INET TCP socket"},
      {AF_INET6, SOCK_STREAM, 0, "AF_INET6 TCP socket"},
      {AF_INET, SOCK_DGRAM, 0, "AF_INET UDP socket"},
      {AF_INET6, SOCK_DGRAM, 0, "AF_INET6 UDP socket"},
      {AF_UNIX, SOCK_STREAM, 0, "AF_UNIX stream socket"},
      {AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "AF_NETLINK socket (NETLINK_ROUTE)"},
  };
  for (const Case& c : cases) {
    UniqueFd fd = make(c.family, c.type, c.protocol);
    auto [from_proc, with_dup] = names_of(fd.get());
    EXPECT_EQ(with_dup, c.name);
    // /proc alone names the protocol, not always the type (AF_UNIX
    // datagram and seqpacket share one name).
    if (c.family != AF_NETLINK) EXPECT_EQ(from_proc, c.name);
  }
  UniqueFd dgram = make(AF_UNIX, SOCK_DGRAM);
  EXPECT_EQ(names_of(dgram.get()).first, "AF_UNIX socket");
  EXPECT_EQ(names_of(dgram.get()).second, "AF_UNIX datagram socket");
  UniqueFd nl = make(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  EXPECT_EQ(names_of(nl.get()).first, "AF_NETLINK socket");
}

TEST(InetSocketKind, RawAndPacketSocketsNeedRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need CAP_NET_RAW";
  UniqueFd raw = make(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  EXPECT_EQ(names_of(raw.get()).second, "AF_INET raw socket (protocol 1)");
  UniqueFd packet = make(AF_PACKET, SOCK_RAW, 0);
  EXPECT_EQ(names_of(packet.get()).first, "AF_PACKET socket");
  EXPECT_EQ(names_of(packet.get()).second, "AF_PACKET raw socket");
}

TEST(InetSocketOptions, ReadAndSetAgainOnANewSocket) {
  UniqueFd a = make(AF_INET6, SOCK_STREAM);
  set_int(a.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  set_int(a.get(), SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int(a.get(), SOL_SOCKET, SO_SNDBUF, 50000);
  set_int(a.get(), IPPROTO_TCP, TCP_KEEPIDLE, 99);
  set_int(a.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  set_int(a.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1);
  set_int(a.get(), IPPROTO_IP, IP_TOS, 0x10);
  linger l{1, 9};
  ASSERT_EQ(setsockopt(a.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
  img::SocketOptions saved = files::read_socket_options(a.get(), AF_INET6, IPPROTO_TCP);
  EXPECT_EQ(saved.reuseaddr(), 1);
  EXPECT_EQ(saved.tcp_keepidle(), 99);
  EXPECT_EQ(saved.linger_secs(), 9);
  EXPECT_FALSE(saved.has_udp_cork());  // not a UDP socket

  UniqueFd b = make(AF_INET6, SOCK_STREAM);
  int default_rcvbuf = get_int(b.get(), SOL_SOCKET, SO_RCVBUF);
  files::apply_socket_options(b.get(), saved, "test socket");
  img::SocketOptions again = files::read_socket_options(b.get(), AF_INET6, IPPROTO_TCP);
  EXPECT_EQ(again.SerializeAsString(), saved.SerializeAsString()) << again.DebugString() << saved.DebugString();
  EXPECT_EQ(get_int(b.get(), SOL_SOCKET, SO_SNDBUF), get_int(a.get(), SOL_SOCKET, SO_SNDBUF));
  EXPECT_EQ(get_int(b.get(), SOL_SOCKET, SO_RCVBUF), default_rcvbuf);
}

TEST(InetSocketOptions, AMissingDeviceIsNamed) {
  img::SocketOptions opts;
  opts.set_bindtodevice("no-such-dev0");
  UniqueFd s = make(AF_INET, SOCK_DGRAM);
  try {
    files::apply_socket_options(s.get(), opts, "test socket");
    FAIL() << "a missing device was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bound to device no-such-dev0 (SO_BINDTODEVICE), which does not exist"),
              std::string::npos)
        << e.what();
  }
}

TEST(InetDiag, FindsAListenerAndItsBacklog) {
  UniqueFd l = make(AF_INET, SOCK_STREAM);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(l.get(), 23), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  struct stat st;
  ASSERT_EQ(fstat(l.get(), &st), 0);
  std::optional<files::diag::InetSocket> s = files::diag::find_inet(st.st_ino, IPPROTO_TCP);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state, TCP_LISTEN);
  EXPECT_EQ(s->wqueue, 23u);
  EXPECT_EQ(s->rqueue, 0u);
  EXPECT_EQ(s->sport, ntohs(a.sin_port));
  EXPECT_EQ(files::diag::endpoint(AF_INET, s->src, s->sport), "127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  EXPECT_EQ(files::diag::tcp_state_name(s->state), "LISTEN");
  EXPECT_FALSE(files::diag::find_inet(st.st_ino, IPPROTO_UDP));
}

TEST(InetDiag, FindsANetlinkSocket) {
  UniqueFd nl = make(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  ASSERT_EQ(bind(nl.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(nl.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  struct stat st;
  ASSERT_EQ(fstat(nl.get(), &st), 0);
  std::optional<files::diag::NetlinkSocket> s = files::diag::find_netlink(st.st_ino);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->protocol, NETLINK_ROUTE);
  EXPECT_EQ(s->portid, a.nl_pid);
  EXPECT_EQ(s->rqueue, 0u);
}
