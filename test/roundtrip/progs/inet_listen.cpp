// Listening TCP sockets across the round trip: IPv4 with SO_REUSEADDR,
// keepalive tuning, TCP_NODELAY, buffer sizes, O_NONBLOCK and a backlog of
// 17; IPv6 only (IPV6_V6ONLY) with TCP_DEFER_ACCEPT and IPV6_TCLASS; a
// dual-stack IPv6 listener on [::] with SO_LINGER; a TCP socket bound but
// not listening; one never bound, with options of its own.  Each listener
// served a connection before the dump and accepts a new one after.
#include "inetlib.h"

#include <poll.h>

using namespace rt::inet;

namespace {

struct Listener {
  int fd;
  int family;
  const char* addr;
  int port;
};

int tcp_socket(int family) {
  int fd = socket(family, SOCK_STREAM, 0);
  RT_CHECK(fd >= 0, "socket: %s", strerror(errno));
  return fd;
}

void expect_opt(int fd, int level, int name, int want, const char* what) {
  int got = getopt_int(fd, level, name);
  RT_CHECK(got == want, "fd %d: %s is %d, want %d", fd, what, got, want);
}

}  // namespace

int main() {
  // IPv4, tuned.
  int v4 = tcp_socket(AF_INET);
  setopt_int(v4, SOL_SOCKET, SO_REUSEADDR, 1);
  setopt_int(v4, SOL_SOCKET, SO_KEEPALIVE, 1);
  setopt_int(v4, IPPROTO_TCP, TCP_KEEPIDLE, 77);
  setopt_int(v4, IPPROTO_TCP, TCP_KEEPINTVL, 11);
  setopt_int(v4, IPPROTO_TCP, TCP_KEEPCNT, 4);
  setopt_int(v4, IPPROTO_TCP, TCP_NODELAY, 1);
  setopt_int(v4, SOL_SOCKET, SO_RCVBUF, 100000);
  setopt_int(v4, SOL_SOCKET, SO_SNDBUF, 70000);
  setopt_int(v4, IPPROTO_IP, IP_TOS, 0x10);
  setopt_int(v4, IPPROTO_IP, IP_TTL, 42);
  bind_to(v4, AF_INET, "127.0.0.1", 8080);
  RT_CHECK(listen(v4, 17) == 0, "listen v4");
  RT_CHECK(fcntl(v4, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");

  // IPv6 only.
  int v6 = tcp_socket(AF_INET6);
  setopt_int(v6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  setopt_int(v6, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
  setopt_int(v6, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
  bind_to(v6, AF_INET6, "::1", 8081);
  RT_CHECK(listen(v6, 5) == 0, "listen v6");

  // Dual stack, taking IPv4 too.
  int dual = tcp_socket(AF_INET6);
  setopt_int(dual, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  linger l{1, 3};
  RT_CHECK(setsockopt(dual, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0, "SO_LINGER");
  bind_to(dual, AF_INET6, "::", 8082);
  RT_CHECK(listen(dual, 300) == 0, "listen dual");

  // Bound, not listening; and never bound.
  int bound = tcp_socket(AF_INET);
  bind_to(bound, AF_INET, "127.0.0.1", 8083);
  int unbound = tcp_socket(AF_INET6);
  setopt_int(unbound, IPPROTO_TCP, TCP_NODELAY, 1);
  setopt_int(unbound, IPPROTO_TCP, TCP_MAXSEG, 1200);

  Listener listeners[] = {{v4, AF_INET, "127.0.0.1", 8080},
                          {v6, AF_INET6, "::1", 8081},
                          {dual, AF_INET6, "::1", 8082},
                          {dual, AF_INET, "127.0.0.1", 8082}};
  for (const Listener& x : listeners) exchange(x.fd, x.family, x.addr, x.port);
  int backlog_v4 = listen_backlog(v4), backlog_v6 = listen_backlog(v6), backlog_dual = listen_backlog(dual);
  RT_CHECK(backlog_v4 == 17, "backlog %d", backlog_v4);
  int rcvbuf = getopt_int(v4, SOL_SOCKET, SO_RCVBUF), sndbuf = getopt_int(v4, SOL_SOCKET, SO_SNDBUF);
  int default_rcvbuf = getopt_int(v6, SOL_SOCKET, SO_RCVBUF);
  // (The kernel keeps TCP_DEFER_ACCEPT as a number of retransmissions: 5 s reads 7.)
  int defer = getopt_int(v6, IPPROTO_TCP, TCP_DEFER_ACCEPT);
  RT_CHECK(defer > 0, "TCP_DEFER_ACCEPT is %d", defer);

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(local_of(v4) == "127.0.0.1:8080", "v4 bound to %s", local_of(v4).c_str());
  RT_CHECK(local_of(v6) == "::1:8081", "v6 bound to %s", local_of(v6).c_str());
  RT_CHECK(local_of(dual) == ":::8082", "dual bound to %s", local_of(dual).c_str());
  RT_CHECK(local_of(bound) == "127.0.0.1:8083", "bound socket at %s", local_of(bound).c_str());
  RT_CHECK(local_of(unbound) == ":::0", "unbound socket at %s", local_of(unbound).c_str());
  for (int fd : {v4, v6, dual}) RT_CHECK(tcp_state(fd) == TCP_LISTEN, "fd %d is not listening", fd);
  RT_CHECK(tcp_state(bound) == TCP_CLOSE && tcp_state(unbound) == TCP_CLOSE, "a closed socket changed state");
  RT_CHECK(listen_backlog(v4) == backlog_v4 && listen_backlog(v6) == backlog_v6 &&
               listen_backlog(dual) == backlog_dual,
           "backlogs %d %d %d, want %d %d %d", listen_backlog(v4), listen_backlog(v6), listen_backlog(dual), backlog_v4,
           backlog_v6, backlog_dual);

  RT_CHECK(fcntl(v4, F_GETFL) & O_NONBLOCK, "v4 lost O_NONBLOCK");
  RT_CHECK(!(fcntl(v6, F_GETFL) & O_NONBLOCK), "v6 got O_NONBLOCK");
  expect_opt(v4, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  expect_opt(v6, SOL_SOCKET, SO_REUSEADDR, 0, "SO_REUSEADDR");
  expect_opt(v4, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  expect_opt(v4, IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE");
  expect_opt(v4, IPPROTO_TCP, TCP_KEEPINTVL, 11, "TCP_KEEPINTVL");
  expect_opt(v4, IPPROTO_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT");
  expect_opt(v4, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
  expect_opt(v4, SOL_SOCKET, SO_RCVBUF, rcvbuf, "SO_RCVBUF");
  expect_opt(v4, SOL_SOCKET, SO_SNDBUF, sndbuf, "SO_SNDBUF");
  expect_opt(v6, SOL_SOCKET, SO_RCVBUF, default_rcvbuf, "default SO_RCVBUF");
  expect_opt(v4, IPPROTO_IP, IP_TOS, 0x10, "IP_TOS");
  expect_opt(v4, IPPROTO_IP, IP_TTL, 42, "IP_TTL");
  expect_opt(v6, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
  expect_opt(dual, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
  expect_opt(v6, IPPROTO_TCP, TCP_DEFER_ACCEPT, defer, "TCP_DEFER_ACCEPT");
  expect_opt(v6, IPPROTO_IPV6, IPV6_TCLASS, 0x20, "IPV6_TCLASS");
  expect_opt(unbound, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
  expect_opt(unbound, IPPROTO_TCP, TCP_MAXSEG, 1200, "TCP_MAXSEG");
  linger got{};
  socklen_t len = sizeof(got);
  RT_CHECK(getsockopt(dual, SOL_SOCKET, SO_LINGER, &got, &len) == 0 && got.l_onoff == 1 && got.l_linger == 3,
           "SO_LINGER is %d/%d", got.l_onoff, got.l_linger);

  // Serving again: each accepts a new connection.
  for (const Listener& x : listeners) exchange(x.fd, x.family, x.addr, x.port);
  // The non-blocking one has nothing more to accept.
  RT_CHECK(accept(v4, nullptr, nullptr) < 0 && errno == EAGAIN, "accept on an empty queue did not say EAGAIN");
  // The bound socket can still listen on its port, and the unbound one connect.
  RT_CHECK(listen(bound, 1) == 0, "listen on the bound socket: %s", strerror(errno));
  exchange(bound, AF_INET, "127.0.0.1", 8083);
  connect_to(unbound, AF_INET6, "::1", 8081);
  RT_CHECK(write(unbound, "x", 1) == 1, "write on the once unbound socket");  // (TCP_DEFER_ACCEPT waits for data)
  int a = accept(v6, nullptr, nullptr);
  RT_CHECK(a >= 0, "accept from the once unbound socket");
  close(a);
  close(unbound);
  rt::pass();
}
