// The network lock (src/net/network_lock.h) on real loopback connections.
// Every test runs in a child process in a network namespace of its own, so
// the host's nftables ruleset is never touched; the child reports through
// its exit status and prints its own failures.
#include "error_of.h"
#include "net/network_lock.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::net {
namespace {

// ---- the private network namespace ----------------------------------------

void loopback_up() {
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) throw sys_error("socket");
  struct ifreq ifr = {};
  std::strcpy(ifr.ifr_name, "lo");
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) throw sys_error("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) throw sys_error("SIOCSIFFLAGS lo");
}

// Runs `body` in a child in a new network namespace with lo up; the test
// fails if the child reports a failure, throws, or is not done in 30 s.
void in_netns(const std::function<void()>& body) {
  fflush(stdout);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    alarm(30);
    int status = 0;
    try {
      if (unshare(CLONE_NEWNET) != 0) throw sys_error("unshare(CLONE_NEWNET)");
      loopback_up();
      body();
      status = ::testing::Test::HasFailure() ? 1 : 0;
    } catch (const std::exception& e) {
      std::printf("child: unexpected exception: %s\n", e.what());
      status = 2;
    }
    fflush(stdout);
    _exit(status);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status))
    FAIL() << "the test child died of signal " << WTERMSIG(status) << (WTERMSIG(status) == SIGALRM ? " (30 s)" : "");
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the test child failed (its output is above)";
}

// ---- nftables as the test sees it --------------------------------------------

struct NftCtxFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// The output of one nft command, or "ERROR: ..." if it failed.
std::string nft(const std::string& cmd) {
  std::unique_ptr<nft_ctx, NftCtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), cmd.c_str()) != 0)
    return std::string("ERROR: ") + nft_ctx_get_error_buffer(ctx.get());
  return nft_ctx_get_output_buffer(ctx.get());
}

// ---- connections -------------------------------------------------------------

Connection conn4(const char* local, uint16_t lport, const char* remote, uint16_t rport) {
  Connection c;
  c.family = AF_INET;
  inet_pton(AF_INET, local, c.local_addr.data());
  inet_pton(AF_INET, remote, c.remote_addr.data());
  c.local_port = lport;
  c.remote_port = rport;
  return c;
}

Connection conn6(const char* local, uint16_t lport, const char* remote, uint16_t rport) {
  Connection c;
  c.family = AF_INET6;
  inet_pton(AF_INET6, local, c.local_addr.data());
  inet_pton(AF_INET6, remote, c.remote_addr.data());
  c.local_port = lport;
  c.remote_port = rport;
  return c;
}

sockaddr_storage address(int family, const char* ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss = {};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    *len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    *len = sizeof(*a);
  }
  return ss;
}

// The lock's view of a connected socket: its own and its peer's address.
Connection connection_of(int sock) {
  sockaddr_storage l = {}, r = {};
  socklen_t ll = sizeof(l), rl = sizeof(r);
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&l), &ll) != 0 ||
      getpeername(sock, reinterpret_cast<sockaddr*>(&r), &rl) != 0)
    throw sys_error("getsockname/getpeername");
  Connection c;
  c.family = l.ss_family;
  if (c.family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&l);
    auto* b = reinterpret_cast<sockaddr_in*>(&r);
    std::memcpy(c.local_addr.data(), &a->sin_addr, 4);
    std::memcpy(c.remote_addr.data(), &b->sin_addr, 4);
    c.local_port = ntohs(a->sin_port);
    c.remote_port = ntohs(b->sin_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&l);
    auto* b = reinterpret_cast<sockaddr_in6*>(&r);
    std::memcpy(c.local_addr.data(), &a->sin6_addr, 16);
    std::memcpy(c.remote_addr.data(), &b->sin6_addr, 16);
    c.local_port = ntohs(a->sin6_port);
    c.remote_port = ntohs(b->sin6_port);
  }
  return c;
}

struct Listener {
  UniqueFd fd;
  sockaddr_storage addr{};
  socklen_t len = 0;
};

Listener listen_on(int family, const char* ip) {
  Listener l;
  l.fd.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  l.addr = address(family, ip, 0, &l.len);
  if (!l.fd || bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), l.len) != 0 || listen(l.fd.get(), 8) != 0 ||
      getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), &l.len) != 0)
    throw sys_error(std::string("cannot listen on ") + ip);
  return l;
}

struct Pair {
  UniqueFd client, server;
};

// A client of `l`, from `from` if given (an address and port to bind).
Pair connect_to(const Listener& l, int family, const char* to, const sockaddr_storage* from = nullptr,
                socklen_t from_len = 0) {
  Pair p;
  p.client.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!p.client) throw sys_error("socket");
  if (from && bind(p.client.get(), reinterpret_cast<const sockaddr*>(from), from_len) != 0)
    throw sys_error("cannot bind the client");
  socklen_t len;
  uint16_t port = ntohs(l.addr.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(&l.addr)->sin_port
                                                    : reinterpret_cast<const sockaddr_in6*>(&l.addr)->sin6_port);
  sockaddr_storage dst = address(family, to, port, &len);
  if (connect(p.client.get(), reinterpret_cast<sockaddr*>(&dst), len) != 0) throw sys_error("cannot connect");
  p.server.reset(accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!p.server) throw sys_error("cannot accept");
  return p;
}

// What arrives on `sock` within `ms` (one read), "" if nothing.
std::string receive(int sock, int ms) {
  struct pollfd p = {sock, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return "";
  char buf[256];
  ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
  if (n < 0) return std::string("recv error: ") + strerror(errno);
  return std::string(buf, size_t(n));
}

void send_text(int sock, const std::string& s) {
  ASSERT_EQ(send(sock, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())) << strerror(errno);
}

int socket_error(int sock) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

// A pair that exchanges a message both ways within `ms` milliseconds.
void expect_flows(const Pair& p, int ms, const char* what) {
  send_text(p.client.get(), "ping");
  EXPECT_EQ(receive(p.server.get(), ms), "ping") << what;
  send_text(p.server.get(), "pong");
  EXPECT_EQ(receive(p.client.get(), ms), "pong") << what;
}

double now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

constexpr const char* kTable = "ckpt_test";

// ---- the tests ------------------------------------------------------------------

TEST(NetworkLock, ConnectionTextNamesBothEnds) {
  EXPECT_EQ(conn4("127.0.0.1", 5000, "127.0.0.1", 41234).text(), "127.0.0.1:5000 -> 127.0.0.1:41234");
  EXPECT_EQ(conn6("::1", 5000, "::1", 41234).text(), "[::1]:5000 -> [::1]:41234");
  EXPECT_EQ(lock_table_name(1234), "ckpt_1234");
}

TEST(NetworkLock, TheTableHoldsBothDirectionsOfEachConnection) {
  in_netns([] {
    // Both ends of the IPv4 connection are in the list (both in the tree):
    // the same two tuples twice.
    NetworkLock lock = NetworkLock::lock(kTable, {conn4("127.0.0.1", 5000, "127.0.0.2", 41234),
                                                  conn6("::1", 6000, "fd00::2", 42345),
                                                  conn4("127.0.0.2", 41234, "127.0.0.1", 5000)});
    EXPECT_TRUE(lock.locked());
    EXPECT_EQ(lock.table(), kTable);
    EXPECT_TRUE(NetworkLock::table_exists(kTable));
    std::string t = nft("list table inet ckpt_test");
    EXPECT_NE(t.find("hook input priority raw; policy accept;"), std::string::npos) << t;
    EXPECT_NE(t.find("hook output priority raw; policy accept;"), std::string::npos) << t;
    EXPECT_NE(t.find("ip saddr . tcp sport . ip daddr . tcp dport @conn4 drop"), std::string::npos) << t;
    EXPECT_NE(t.find("ip6 saddr . tcp sport . ip6 daddr . tcp dport @conn6 drop"), std::string::npos) << t;
    for (const char* e : {"127.0.0.1 . 5000 . 127.0.0.2 . 41234", "127.0.0.2 . 41234 . 127.0.0.1 . 5000",
                          "::1 . 6000 . fd00::2 . 42345", "fd00::2 . 42345 . ::1 . 6000"})
      EXPECT_NE(t.find(e), std::string::npos) << e << " is not in\n" << t;
    lock.unlock();
    EXPECT_FALSE(lock.locked());
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
    EXPECT_EQ(nft("list tables"), "");
  });
}

// A real connection stalls while locked and goes on after unlock without a
// reset; other connections, even on the same ports, are not touched.
class Stall : public ::testing::TestWithParam<int> {};

TEST_P(Stall, ALockedConnectionStallsAndResumesAfterUnlock) {
  in_netns([] {
    const int family = GetParam() == 4 ? AF_INET : AF_INET6;
    // 6: IPv6; 64: an IPv6 socket talking IPv4 (a v4-mapped address).
    const char* ip = GetParam() == 4 ? "127.0.0.1" : GetParam() == 6 ? "::1" : "::ffff:127.0.0.1";
    Listener l = listen_on(family, GetParam() == 64 ? "::" : ip);
    Pair locked = connect_to(l, family, ip);
    Pair other = connect_to(l, family, ip);
    // The locked client's port from another address: the same ports, another tuple.
    Connection c = connection_of(locked.client.get());
    const char* other_ip = GetParam() == 4 ? "127.0.0.2" : GetParam() == 6 ? "::1" : "::ffff:127.0.0.2";
    Pair same_ports;
    if (GetParam() != 6) {   // (IPv6 loopback has one address only)
      socklen_t len;
      sockaddr_storage from = address(family, other_ip, c.local_port, &len);
      same_ports = connect_to(l, family, ip, &from, len);
    }

    NetworkLock lock = NetworkLock::lock(kTable, {c});
    send_text(locked.client.get(), "to server");
    send_text(locked.server.get(), "to client");
    EXPECT_EQ(receive(locked.server.get(), 300), "") << "the server received while locked";
    EXPECT_EQ(receive(locked.client.get(), 300), "") << "the client received while locked";
    expect_flows(other, 1000, "another connection to the same server");
    if (same_ports.client) expect_flows(same_ports, 1000, "a connection on the same ports from another address");

    lock.unlock();
    // The segments come back with the next retransmission (backed off a
    // little while the lock held them).
    EXPECT_EQ(receive(locked.server.get(), 5000), "to server");
    EXPECT_EQ(receive(locked.client.get(), 5000), "to client");
    EXPECT_EQ(socket_error(locked.client.get()), 0);
    EXPECT_EQ(socket_error(locked.server.get()), 0);
    expect_flows(locked, 1000, "the unlocked connection");
  });
}

INSTANTIATE_TEST_SUITE_P(Families, Stall, ::testing::Values(4, 6, 64), [](const auto& info) {
  return info.param == 4 ? "IPv4" : info.param == 6 ? "IPv6" : "IPv4MappedIPv6";
});

TEST(NetworkLock, UnlockTableOfAnAbsentTableIsFalse) {
  in_netns([] {
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
    EXPECT_FALSE(NetworkLock::unlock_table(kTable));
    NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)}).keep();
    EXPECT_TRUE(NetworkLock::unlock_table(kTable));
    EXPECT_FALSE(NetworkLock::unlock_table(kTable));
  });
}

TEST(NetworkLock, TheDestructorRemovesTheTable) {
  in_netns([] {
    {
      NetworkLock lock = NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)});
      EXPECT_TRUE(NetworkLock::table_exists(kTable));
    }
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
  });
}

TEST(NetworkLock, KeepLeavesTheTable) {
  in_netns([] {
    {
      NetworkLock lock = NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)});
      lock.keep();
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_TRUE(NetworkLock::table_exists(kTable));
    EXPECT_TRUE(NetworkLock::unlock_table(kTable));
  });
}

TEST(NetworkLock, AMovedFromLockLeavesTheTableToItsSuccessor) {
  in_netns([] {
    NetworkLock outer;
    EXPECT_FALSE(outer.locked());
    {
      NetworkLock lock = NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)});
      outer = std::move(lock);
      EXPECT_FALSE(lock.locked());  // NOLINT(bugprone-use-after-move): moved-from state is defined
    }
    EXPECT_TRUE(outer.locked());
    EXPECT_TRUE(NetworkLock::table_exists(kTable));
    outer = NetworkLock();  // the assignment releases the table it held
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
  });
}

TEST(NetworkLock, AnEmptyListMakesNoTable) {
  in_netns([] {
    NetworkLock lock = NetworkLock::lock(kTable, {});
    EXPECT_FALSE(lock.locked());
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
    lock.unlock();
  });
}

using test::error_of;

TEST(NetworkLock, ErrorsNameTheTableAndTheReason) {
  in_netns([] {
    EXPECT_NE(error_of([] { NetworkLock::lock("bad name;", {conn4("127.0.0.1", 1, "127.0.0.1", 2)}); })
                  .find("invalid nftables table name 'bad name;'"),
              std::string::npos);
    NetworkLock first = NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)});
    std::string again = error_of([] { NetworkLock::lock(kTable, {conn4("127.0.0.1", 3, "127.0.0.1", 4)}); });
    EXPECT_NE(again.find("nftables table inet ckpt_test already exists"), std::string::npos) << again;
    // The failed second lock changed nothing in the first one's table.
    EXPECT_EQ(nft("list table inet ckpt_test").find("127.0.0.1 . 3"), std::string::npos);
    first.unlock();

    // Without CAP_NET_ADMIN.
    cap_t caps = cap_get_proc();
    cap_value_t net_admin = CAP_NET_ADMIN;
    ASSERT_EQ(cap_set_flag(caps, CAP_EFFECTIVE, 1, &net_admin, CAP_CLEAR), 0);
    ASSERT_EQ(cap_set_proc(caps), 0);
    cap_free(caps);
    std::string eperm = error_of([] { NetworkLock::lock(kTable, {conn4("127.0.0.1", 1, "127.0.0.1", 2)}); });
    EXPECT_NE(eperm.find("cannot lock 1 TCP connection(s) with nftables table inet ckpt_test: "), std::string::npos)
        << eperm;
    EXPECT_NE(eperm.find("Operation not permitted (needs CAP_NET_ADMIN)"), std::string::npos) << eperm;
    std::string del = error_of([] { NetworkLock::unlock_table(kTable); });
    EXPECT_NE(del.find("cannot remove nftables table inet ckpt_test (the network lock): "), std::string::npos)
        << del;
  });
}

// The benchmark's size: prints the times, asserts only that it works.
TEST(NetworkLock, AThousandConnectionsLockAndUnlock) {
  in_netns([] {
    std::vector<Connection> conns;
    for (int i = 0; i < 500; ++i) conns.push_back(conn4("10.0.0.1", 5000, "10.0.1.2", uint16_t(20000 + i)));
    for (int i = 0; i < 500; ++i) conns.push_back(conn6("fd00::1", 5000, "fd00::1:2", uint16_t(20000 + i)));
    double t0 = now();
    NetworkLock lock = NetworkLock::lock(kTable, conns);
    double t1 = now();
    lock.unlock();
    double t2 = now();
    std::printf("network lock of 1000 connections: lock %.1f ms, unlock %.1f ms\n", (t1 - t0) * 1e3,
                (t2 - t1) * 1e3);
    EXPECT_FALSE(NetworkLock::table_exists(kTable));
  });
}

}  // namespace
}  // namespace ckpt::net
