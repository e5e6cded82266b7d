// libsoccr on real loopback TCP connections: a connection is saved in repair
// mode with data queued both ways, its socket closed without a word to the
// peer, and restored into a new socket; the exchange must then go on
// byte-exact both ways without the peer ever seeing a reset.
//
// Every test body runs in a forked child inside a network namespace of its
// own (unshare(CLONE_NEWNET), lo brought up), so the host's network is never
// touched; the child's googletest failures are printed by the child and
// reported to the parent through its exit status.
#include "soccr.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

namespace {

constexpr int kSkip = 77;

// One fd, closed at the end of its scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Brings lo up in the current (new) network namespace.
bool loopback_up() {
  Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0;
}

// Runs `body` in a child in a network namespace of its own; the test fails
// if the body failed there, and is skipped without the right to unshare.
void in_netns(const std::function<void()>& body) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(kSkip);
    if (!loopback_up()) {
      fprintf(stderr, "cannot bring lo up: %s\n", strerror(errno));
      _exit(2);
    }
    int code = 0;
    try {
      body();
      code = ::testing::Test::HasFailure() ? 1 : 0;
    } catch (const std::exception& e) {
      fprintf(stderr, "exception in the test child: %s\n", e.what());
      code = 3;
    }
    fflush(stdout);
    fflush(stderr);
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the test child died: status " << status;
  if (WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "no right to create a network namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the test child failed (its messages are above)";
}

void set_int(int fd, int level, int opt, int value) {
  ASSERT_EQ(setsockopt(fd, level, opt, &value, sizeof(value)), 0) << opt << ": " << strerror(errno);
}

int queued(int fd, unsigned long request) {
  int n = -1;
  EXPECT_EQ(ioctl(fd, request, &n), 0) << strerror(errno);
  return n;
}

struct Pair {
  Fd listener, client, server;
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// A connected pair over lo (127.0.0.1 or ::1).  `server_rcvbuf`, when not
// 0, makes the accepted socket's receive buffer (and so its window) small.
// `address`, when not null, is the listener's instead of loopback;
// `server_netns`, when not -1, the network namespace it is made in;
// `client_setup` is called on the client before it connects.
Pair connect_pair(int family, int server_rcvbuf = 0, const char* address = nullptr, int server_netns = -1,
                  const std::function<void(int)>& client_setup = nullptr) {
  Pair p;
  Fd here;
  if (server_netns >= 0) {
    here.reset(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(setns(server_netns, CLONE_NEWNET), 0) << strerror(errno);
  }
  p.listener.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // Large receive buffers (set before the handshake, so the window scale
  // fits them) let 64 KiB sit unread in one window.
  set_int(p.listener.get(), SOL_SOCKET, SO_RCVBUF, server_rcvbuf ? server_rcvbuf : 1 << 20);
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&p.addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (address) EXPECT_EQ(inet_pton(AF_INET, address, &in->sin_addr), 1) << address;
    p.len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&p.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    if (address) EXPECT_EQ(inet_pton(AF_INET6, address, &in6->sin6_addr), 1) << address;
    p.len = sizeof(*in6);
  }
  sockaddr* sa = reinterpret_cast<sockaddr*>(&p.addr);
  EXPECT_EQ(bind(p.listener.get(), sa, p.len), 0) << strerror(errno);
  EXPECT_EQ(listen(p.listener.get(), 4), 0) << strerror(errno);
  EXPECT_EQ(getsockname(p.listener.get(), sa, &p.len), 0) << strerror(errno);
  // A socket stays in the namespace it was made in.
  if (here.get() >= 0) EXPECT_EQ(setns(here.get(), CLONE_NEWNET), 0) << strerror(errno);
  p.client.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_int(p.client.get(), SOL_SOCKET, SO_RCVBUF, 1 << 20);
  if (client_setup) client_setup(p.client.get());
  EXPECT_EQ(connect(p.client.get(), sa, p.len), 0) << strerror(errno);
  p.server.reset(accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_GE(p.server.get(), 0) << strerror(errno);
  return p;
}

std::string pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

void send_all(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Reads exactly `size` bytes within 10 s; a reset or EOF fails the test.
std::string recv_exactly(int fd, size_t size) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char buf[65536];
  while (out.size() < size && std::chrono::steady_clock::now() < deadline) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, buf, std::min(sizeof(buf), size - out.size()), MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) continue;
    EXPECT_GT(n, 0) << (n < 0 ? strerror(errno) : "EOF") << " after " << out.size() << " of " << size << " bytes";
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(out.size(), size) << "bytes received within 10 s";
  return out;
}

// Byte strings compared by size and first difference: a 64 KiB mismatch
// printed whole would drown the report.
::testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, expected " << want.size()
                                       << "; first difference at byte " << at;
}

// Waits until `fd` has `bytes` unread (the peer's data arrived).
void wait_inq(int fd, int bytes) {
  for (int i = 0; i < 1000 && queued(fd, SIOCINQ) != bytes; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(queued(fd, SIOCINQ), bytes);
}

// Waits until everything `fd` sent is acknowledged (the peer's ACK may be
// delayed).
void wait_acked(int fd) {
  for (int i = 0; i < 1000 && queued(fd, SIOCOUTQ) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(queued(fd, SIOCOUTQ), 0);
}

// Waits until the send queue of `fd` stops changing for 200 ms.
void wait_outq_settled(int fd) {
  int last = -1;
  for (int stable = 0, i = 0; stable < 20 && i < 1000; ++i) {
    int now = queued(fd, SIOCOUTQ);
    stable = now == last ? stable + 1 : 0;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void expect_healthy(int fd, const char* side) {
  int err = -1;
  socklen_t len = sizeof(err);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0) << side << ": " << strerror(err);
  tcp_info info{};
  len = sizeof(info);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
  EXPECT_EQ(info.tcpi_state, TCP_ESTABLISHED) << side;
}

// The size the kernel cuts the socket's segments to (its mss_cache).
uint32_t snd_mss(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0) << strerror(errno);
  return info.tcpi_snd_mss;
}

// Saves the client in repair mode and closes it there (as a dump whose tree
// is killed: nothing reaches the server), then restores it on a new socket.
Fd save_close_restore(Pair& p, soccr::TcpState& st) {
  {
    soccr::Repair repair(p.client.get());
    st = soccr::save(p.client.get());
    repair.keep();
  }
  p.client.reset();
  Fd fresh(socket(st.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  soccr::restore(fresh.get(), st);
  return fresh;
}

// The main scenario: `size` bytes unread each way, the client saved and
// restored, then both queues read and a new exchange both ways.
void round_trip(int family, size_t size) {
  Pair p = connect_pair(family);
  // A first exchange, so both sides' sequences have moved.
  send_all(p.client.get(), "hello");
  EXPECT_EQ(recv_exactly(p.server.get(), 5), "hello");
  send_all(p.server.get(), "olleh");
  EXPECT_EQ(recv_exactly(p.client.get(), 5), "olleh");

  std::string to_server = pattern(size, 'a'), to_client = pattern(size, 'Z');
  send_all(p.client.get(), to_server);
  send_all(p.server.get(), to_client);
  wait_inq(p.server.get(), static_cast<int>(size));
  wait_inq(p.client.get(), static_cast<int>(size));
  // And acknowledged: the restored socket is then the only holder of the
  // bytes it received (the server would otherwise retransmit them and heal
  // a receive queue restored wrong).
  wait_acked(p.server.get());
  wait_acked(p.client.get());

  sockaddr_storage local{}, remote{};
  socklen_t llen = sizeof(local), rlen = sizeof(remote);
  getsockname(p.client.get(), reinterpret_cast<sockaddr*>(&local), &llen);
  getpeername(p.client.get(), reinterpret_cast<sockaddr*>(&remote), &rlen);

  soccr::TcpState st;
  Fd client = save_close_restore(p, st);
  EXPECT_EQ(st.family, family);
  EXPECT_EQ(st.state, TCP_ESTABLISHED);
  EXPECT_TRUE(same_bytes(st.received, to_client));
  EXPECT_TRUE(st.sent.empty());
  EXPECT_TRUE(st.unsent.empty());
  EXPECT_GT(st.mss, 0u);
  // Linux negotiates these on loopback by default.
  EXPECT_TRUE(st.sack);
  EXPECT_TRUE(st.timestamps);
  EXPECT_TRUE(st.window_scaling);
  EXPECT_TRUE(st.has_window);
  EXPECT_EQ(st.local.len, llen);
  EXPECT_EQ(std::memcmp(&st.local.addr, &local, llen), 0) << st.local.text();
  EXPECT_EQ(std::memcmp(&st.remote.addr, &remote, rlen), 0) << st.remote.text();

  // The restored socket reads the saved receive queue, the server its own.
  EXPECT_TRUE(same_bytes(recv_exactly(client.get(), size), to_client));
  EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), size), to_server));
  // And the connection goes on both ways.
  std::string more_up = pattern(size, 'm'), more_down = pattern(size, 'M');
  send_all(client.get(), more_up);
  EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), size), more_up));
  send_all(p.server.get(), more_down);
  EXPECT_TRUE(same_bytes(recv_exactly(client.get(), size), more_down));
  expect_healthy(p.server.get(), "server");
  expect_healthy(client.get(), "restored client");

  // The restored socket saves as the original would have: same addresses,
  // and the sequences moved on by exactly what was exchanged since.
  soccr::Repair again(client.get());
  soccr::TcpState now = soccr::save(client.get());
  again.off();
  EXPECT_EQ(now.send_seq, st.send_seq + static_cast<uint32_t>(size));
  EXPECT_EQ(now.recv_seq, st.recv_seq + static_cast<uint32_t>(size));
  EXPECT_EQ(now.local.text(), st.local.text());
  EXPECT_EQ(now.remote.text(), st.remote.text());
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const soccr::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Soccr, IPv4FewBytesBothWays) {
  in_netns([] { round_trip(AF_INET, 13); });
}

TEST(Soccr, IPv4SixtyFourKiBBothWays) {
  in_netns([] { round_trip(AF_INET, 64 * 1024); });
}

TEST(Soccr, IPv6FewBytesBothWays) {
  in_netns([] { round_trip(AF_INET6, 13); });
}

TEST(Soccr, IPv6SixtyFourKiBBothWays) {
  in_netns([] { round_trip(AF_INET6, 64 * 1024); });
}

TEST(Soccr, EndpointText) {
  soccr::Endpoint v4;
  auto* in = reinterpret_cast<sockaddr_in*>(&v4.addr);
  in->sin_family = AF_INET;
  in->sin_port = htons(5000);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  v4.len = sizeof(*in);
  EXPECT_EQ(v4.text(), "127.0.0.1:5000");
  soccr::Endpoint v6;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&v6.addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(5000);
  in6->sin6_addr = in6addr_loopback;
  v6.len = sizeof(*in6);
  EXPECT_EQ(v6.text(), "[::1]:5000");
  EXPECT_EQ(soccr::Endpoint{}.text(), "?");
}

// Data the server's full window keeps in the client's send queue (unsent)
// comes out at the server in order after restore.
TEST(Soccr, UnsentDataArrivesInOrder) {
  in_netns([] {
    Pair p = connect_pair(AF_INET, 4096);
    set_int(p.client.get(), SOL_SOCKET, SO_SNDBUF, 1 << 20);
    // The server does not read: its small window fills and the rest stays
    // unsent at the client.
    const size_t total = 256 * 1024;
    std::string data = pattern(total, 'u');
    size_t written = 0;
    fcntl(p.client.get(), F_SETFL, O_NONBLOCK);
    while (written < total) {
      ssize_t n = send(p.client.get(), data.data() + written, total - written, MSG_NOSIGNAL);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    ASSERT_EQ(written, total) << "the client's send buffer should hold it all";
    wait_outq_settled(p.client.get());
    // The kernel bounds the segments by half the largest window the peer
    // offered (a few KiB here): the restored socket must too, or it would
    // wait for a window of a whole (lo-sized) segment that never comes.
    uint32_t mss = snd_mss(p.client.get());

    soccr::TcpState st;
    Fd client = save_close_restore(p, st);
    EXPECT_EQ(snd_mss(client.get()), mss);
    EXPECT_GT(st.unsent.size(), 128u * 1024);
    // The send queue is the tail of what was written, the server has the rest.
    std::string queue = st.sent + st.unsent;
    EXPECT_TRUE(same_bytes(queue, data.substr(total - queue.size())));
    EXPECT_EQ(static_cast<size_t>(queued(p.server.get(), SIOCINQ)) + queue.size(), total);

    EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), total), data));
    send_all(p.server.get(), "done");
    EXPECT_EQ(recv_exactly(client.get(), 4), "done");
    expect_healthy(p.server.get(), "server");
    expect_healthy(client.get(), "restored client");
  });
}

// Bytes in flight (sent, not acknowledged: lost with the old socket, as the
// network lock drops them) are retransmitted by the restored socket.
TEST(Soccr, InFlightDataIsRetransmitted) {
  in_netns([] {
    Pair p = connect_pair(AF_INET);
    send_all(p.client.get(), "head ");
    wait_inq(p.server.get(), 5);
    wait_acked(p.client.get());
    // Queued in repair mode, which the kernel counts as sent without
    // transmitting them: the server never got them.
    const std::string in_flight = pattern(20000, 'f');
    soccr::TcpState st;
    {
      soccr::Repair repair(p.client.get());
      int q = TCP_SEND_QUEUE;
      ASSERT_EQ(setsockopt(p.client.get(), IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)), 0);
      ASSERT_EQ(send(p.client.get(), in_flight.data(), in_flight.size(), 0), static_cast<ssize_t>(in_flight.size()));
      st = soccr::save(p.client.get());
      repair.keep();
    }
    p.client.reset();
    EXPECT_TRUE(same_bytes(st.sent, in_flight));
    EXPECT_TRUE(st.unsent.empty());
    EXPECT_EQ(queued(p.server.get(), SIOCINQ), 5);

    Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    soccr::restore(client.get(), st);
    send_all(client.get(), " tail");
    EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), 5 + in_flight.size() + 5), "head " + in_flight + " tail"));
    expect_healthy(p.server.get(), "server");
    expect_healthy(client.get(), "restored client");
  });
}

// The peer's listener still holds the port the accepted side is bound to:
// restoring the server's end of the connection binds there all the same.
TEST(Soccr, AcceptedSideRestoresBesideItsListener) {
  in_netns([] {
    Pair p = connect_pair(AF_INET6);
    send_all(p.client.get(), "ping");
    wait_inq(p.server.get(), 4);
    wait_acked(p.client.get());
    soccr::TcpState st;
    {
      soccr::Repair repair(p.server.get());
      st = soccr::save(p.server.get());
      repair.keep();
    }
    p.server.reset();
    Fd server(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    soccr::restore(server.get(), st);
    EXPECT_EQ(recv_exactly(server.get(), 4), "ping");
    send_all(server.get(), "pong");
    EXPECT_EQ(recv_exactly(p.client.get(), 4), "pong");
    expect_healthy(p.client.get(), "client");
  });
}

// Repair off puts back the SO_REUSEADDR the kernel clears when it leaves
// repair mode.
TEST(Soccr, RepairKeepsReuseAddr) {
  in_netns([] {
    Pair p = connect_pair(AF_INET);
    set_int(p.client.get(), SOL_SOCKET, SO_REUSEADDR, 1);
    { soccr::Repair repair(p.client.get()); }
    int v = 0;
    socklen_t len = sizeof(v);
    ASSERT_EQ(getsockopt(p.client.get(), SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    EXPECT_EQ(v, 1);
    send_all(p.client.get(), "still");
    EXPECT_EQ(recv_exactly(p.server.get(), 5), "still");
  });
}

TEST(Soccr, RestoreRefusesFamilyZero) {
  Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(error_of([&] { soccr::restore(sock.get(), soccr::TcpState{}); }),
            "cannot restore a TCP connection of address family 0: only AF_INET and AF_INET6");
}

TEST(Soccr, SaveRefusesASocketNotInRepairMode) {
  in_netns([] {
    Pair p = connect_pair(AF_INET);
    try {
      soccr::save(p.client.get());
      ADD_FAILURE() << "save() of a socket not in repair mode succeeded";
    } catch (const soccr::Error& e) {
      EXPECT_STREQ(e.what(),
                   "setsockopt TCP_REPAIR_QUEUE: the socket is not in repair mode (TCP_REPAIR): "
                   "Operation not permitted");
      EXPECT_EQ(e.error(), EPERM);
    }
    // And nothing happened to the connection.
    send_all(p.client.get(), "ok");
    EXPECT_EQ(recv_exactly(p.server.get(), 2), "ok");
  });
}

TEST(Soccr, RepairRefusesAListener) {
  in_netns([] {
    Pair p = connect_pair(AF_INET);
    EXPECT_EQ(error_of([&] { soccr::Repair r(p.listener.get()); }),
              "setsockopt TCP_REPAIR: cannot repair a listening socket: Operation not permitted");
  });
}

// A restore that fails half-way leaves the socket in repair mode, so that
// closing it sends nothing to the peer; the message names the step.
TEST(Soccr, FailedRestoreStaysInRepairMode) {
  in_netns([] {
    Pair p = connect_pair(AF_INET6);
    soccr::TcpState st;
    {
      soccr::Repair repair(p.client.get());
      st = soccr::save(p.client.get());
    }
    // An address of the documentation prefix: no interface here has it.
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&st.local.addr);
    ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr), 1);
    in6->sin6_port = htons(5000);
    Fd fresh(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(error_of([&] { soccr::restore(fresh.get(), st); }),
              "bind to [2001:db8::1]:5000: Cannot assign requested address");
    int q = TCP_NO_QUEUE;
    EXPECT_EQ(setsockopt(fresh.get(), IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)), 0)
        << "not in repair mode any more: " << strerror(errno);
    // The original connection was only saved, not closed: it goes on.
    send_all(p.client.get(), "on");
    EXPECT_EQ(recv_exactly(p.server.get(), 2), "on");
  });
}

namespace {

// The restored socket cuts its segments to the size the saved one did (the
// kernel's mss_cache: the path MTU, the peer's MSS, half the peer's largest
// window), not to the 524 bytes of a repair connect() left as it is; and
// the connection goes on byte-exact both ways.  `address` and
// `server_netns` are connect_pair()'s; `setup` is called on the client
// before it connects and on its restored socket before restore().
void mss_round_trip(int family, const char* address, uint32_t expected_mss, int server_netns = -1,
                    const std::function<void(int)>& setup = nullptr) {
  Pair p = connect_pair(family, 0, address, server_netns, setup);
  // Enough both ways for the windows to open fully, read and acknowledged.
  std::string up = pattern(1 << 20, 'a'), down = pattern(1 << 20, 'Z');
  send_all(p.client.get(), up);
  EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), up.size()), up));
  send_all(p.server.get(), down);
  EXPECT_TRUE(same_bytes(recv_exactly(p.client.get(), down.size()), down));
  wait_acked(p.client.get());
  wait_acked(p.server.get());
  uint32_t before = snd_mss(p.client.get());
  EXPECT_EQ(before, expected_mss) << "not the MSS this path should have";

  soccr::TcpState st;
  {
    soccr::Repair repair(p.client.get());
    st = soccr::save(p.client.get());
    repair.keep();
  }
  p.client.reset();
  Fd client(socket(st.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (setup) setup(client.get());
  soccr::restore(client.get(), st);
  EXPECT_EQ(snd_mss(client.get()), before) << "the restored socket's segment size";

  send_all(client.get(), up);
  EXPECT_TRUE(same_bytes(recv_exactly(p.server.get(), up.size()), up));
  send_all(p.server.get(), down);
  EXPECT_TRUE(same_bytes(recv_exactly(client.get(), down.size()), down));
  EXPECT_EQ(snd_mss(client.get()), before) << "after a MiB each way";
  expect_healthy(p.server.get(), "server");
  expect_healthy(client.get(), "restored client");
}

// Runs `ip ARGS`, failing the test if it fails.
void ip(const std::string& args) {
  std::string cmd = "ip " + args + " >/dev/null 2>&1";
  EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
}

// Joins this network namespace to a new one by a veth pair (MTU 1500, as
// an ethernet's): 10.78.0.1/24 and fd00:78::1/64 here, .2 and ::2 there.
// Returns the other namespace.
Fd veth_to_new_netns() {
  Fd here(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  EXPECT_GE(here.get(), 0) << strerror(errno);
  EXPECT_EQ(unshare(CLONE_NEWNET), 0) << strerror(errno);
  Fd there(open("/proc/self/ns/net", O_RDONLY));  // not CLOEXEC: `ip` opens it by path
  EXPECT_TRUE(loopback_up());
  EXPECT_EQ(setns(here.get(), CLONE_NEWNET), 0) << strerror(errno);
  std::string other = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(there.get());
  ip("link add vm-a mtu 1500 type veth peer name vm-b netns " + other);
  ip("addr add 10.78.0.1/24 dev vm-a");
  ip("addr add fd00:78::1/64 dev vm-a nodad");
  ip("link set vm-a up");
  EXPECT_EQ(setns(there.get(), CLONE_NEWNET), 0) << strerror(errno);
  ip("addr add 10.78.0.2/24 dev vm-b");
  ip("addr add fd00:78::2/64 dev vm-b nodad");
  ip("link set vm-b up");
  EXPECT_EQ(setns(here.get(), CLONE_NEWNET), 0) << strerror(errno);
  return there;
}

// An IPv6 destination options header of 8 bytes, only padding (PadN).
void set_dstopts(int fd) {
  const unsigned char hdr[8] = {IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0};
  ASSERT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_DSTOPTS, hdr, sizeof(hdr)), 0) << strerror(errno);
}

}  // namespace

// lo: MTU 65536, so 65535 - 40 (IPv4 header, TCP header) - 12 (timestamps).
TEST(Soccr, RestoredMssIsTheSavedOneIPv4) {
  in_netns([] { mss_round_trip(AF_INET, nullptr, 65483); });
}

// IPv6: 65536 - 60 (its header is 20 bytes longer) - 12; no 65535 cap.
TEST(Soccr, RestoredMssIsTheSavedOneIPv6) {
  in_netns([] { mss_round_trip(AF_INET6, nullptr, 65464); });
}

// An IPv6 socket talking IPv4 (a dual-stack listener's connections).
TEST(Soccr, RestoredMssIsTheSavedOneV4MappedIPv6) {
  in_netns([] { mss_round_trip(AF_INET6, "::ffff:127.0.0.1", 65483); });
}

// An extension header the caller set stays, and counts in the MSS.
TEST(Soccr, RestoredMssIsTheSavedOneIPv6WithDestinationOptions) {
  in_netns([] {
    mss_round_trip(AF_INET6, nullptr, 65464 - 8, -1, set_dstopts);
  });
}

// An ethernet-like path: 1500 - 40 - 12.
TEST(Soccr, RestoredMssIsTheSavedOneOnAVethPairIPv4) {
  in_netns([] {
    Fd there = veth_to_new_netns();
    mss_round_trip(AF_INET, "10.78.0.2", 1448, there.get());
  });
}

TEST(Soccr, RestoredMssIsTheSavedOneOnAVethPairIPv6) {
  in_netns([] {
    Fd there = veth_to_new_netns();
    mss_round_trip(AF_INET6, "fd00:78::2", 1428, there.get());
  });
}
