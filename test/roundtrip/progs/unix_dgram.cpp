// Datagram and seqpacket unix sockets across the round trip: socket pairs
// with messages queued both ways, boundaries kept (an empty message too);
// a server bound to an abstract name with datagrams queued from a client
// bound to a relative path and connected to it, and from an unnamed one;
// SO_PEEK_OFF moved by a peek, buffer sizes, a receive timeout, O_NONBLOCK.
#include "unixlib.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <vector>

namespace {

void expect_queue(int fd, const std::vector<std::string>& want, const char* what) {
  for (size_t i = 0; i < want.size(); i++) {
    std::string got = ux::recv_msg(fd);
    RT_CHECK(got == want[i], "%s: message %zu is '%.40s' (%zu bytes), want '%.40s' (%zu bytes)", what, i,
             got.c_str(), got.size(), want[i].c_str(), want[i].size());
  }
  char b;
  RT_CHECK(recv(fd, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "%s: more messages than sent", what);
}

int get_int(int fd, int opt) {
  int v = 0;
  socklen_t len = sizeof(v);
  RT_CHECK(getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0, "getsockopt %d", opt);
  return v;
}

}  // namespace

int main() {
  int d[2], q[2];
  RT_CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, d) == 0, "socketpair dgram");
  RT_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) == 0, "socketpair seqpacket");
  std::string big = ux::pattern(30000, 3);
  std::vector<std::string> d_to_1 = {"one", "", "three-is-longer", big};
  std::vector<std::string> d_to_0 = {"back"};
  for (auto& m : d_to_1) ux::send_msg(d[0], m);
  for (auto& m : d_to_0) ux::send_msg(d[1], m);
  std::vector<std::string> q_to_1 = {"p1", "p2p2", "", "p4"};
  for (auto& m : q_to_1) ux::send_msg(q[0], m);
  ux::send_msg(q[1], "q");

  // SO_PEEK_OFF: a peek moves it past "p1".
  int zero = 0;
  RT_CHECK(setsockopt(q[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0, "SO_PEEK_OFF");
  char b[8];
  RT_CHECK(recv(q[1], b, sizeof(b), MSG_PEEK) == 2, "peek");
  RT_CHECK(get_int(q[1], SO_PEEK_OFF) == 2, "peek offset not moved");

  int rcvbuf = 300000;
  RT_CHECK(setsockopt(d[1], SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == 0, "SO_RCVBUFFORCE");
  int rcvbuf_was = get_int(d[1], SO_RCVBUF);
  int sndbuf = 50000;
  RT_CHECK(setsockopt(d[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0, "SO_SNDBUF");
  int sndbuf_was = get_int(d[0], SO_SNDBUF);
  timeval tv{7, 250000};
  RT_CHECK(setsockopt(q[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
  timeval tv_was{};
  socklen_t tvlen = sizeof(tv_was);
  RT_CHECK(getsockopt(q[0], SOL_SOCKET, SO_RCVTIMEO, &tv_was, &tvlen) == 0, "SO_RCVTIMEO");  // rounded to ticks
  RT_CHECK(fcntl(d[0], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");

  // A server on an abstract name, a named client connected to it, an
  // unnamed one sending to it.
  std::string server_name = "@ckpt-rt-dgram-" + std::to_string(getpid());
  unlink("dgram-client.sock");
  int server = ux::bound(SOCK_DGRAM, server_name);
  int client = ux::bound(SOCK_DGRAM, "dgram-client.sock");
  ux::connect_to(client, server_name);
  int loose = socket(AF_UNIX, SOCK_DGRAM, 0);
  ux::send_msg(client, "c1");
  sockaddr_un sa;
  socklen_t salen = ux::addr(server_name, sa);
  RT_CHECK(sendto(loose, "u1", 2, 0, (sockaddr*)&sa, salen) == 2, "sendto");
  ux::send_msg(client, "c2");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(get_int(q[1], SO_PEEK_OFF) == 2, "SO_PEEK_OFF is %d, want 2", get_int(q[1], SO_PEEK_OFF));
  RT_CHECK(recv(q[1], b, sizeof(b), MSG_PEEK) == 4 && memcmp(b, "p2p2", 4) == 0, "peek at offset 2");
  RT_CHECK(get_int(d[1], SO_RCVBUF) == rcvbuf_was, "SO_RCVBUF %d, want %d", get_int(d[1], SO_RCVBUF), rcvbuf_was);
  RT_CHECK(get_int(d[0], SO_SNDBUF) == sndbuf_was, "SO_SNDBUF %d, want %d", get_int(d[0], SO_SNDBUF), sndbuf_was);
  timeval got_tv{};
  RT_CHECK(getsockopt(q[0], SOL_SOCKET, SO_RCVTIMEO, &got_tv, &tvlen) == 0 && got_tv.tv_sec == tv_was.tv_sec &&
               got_tv.tv_usec == tv_was.tv_usec,
           "SO_RCVTIMEO %ld.%06ld", long(got_tv.tv_sec), long(got_tv.tv_usec));
  RT_CHECK(fcntl(d[0], F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
  RT_CHECK(get_int(d[0], SO_TYPE) == SOCK_DGRAM && get_int(q[0], SO_TYPE) == SOCK_SEQPACKET, "socket types");

  expect_queue(d[1], d_to_1, "datagram pair, one way");
  expect_queue(d[0], d_to_0, "datagram pair, other way");
  expect_queue(q[0], {"q"}, "seqpacket pair, other way");
  {
    // Reading moves the peek offset back with the queue.
    std::string first = ux::recv_msg(q[1]);
    RT_CHECK(first == "p1", "seqpacket first '%s'", first.c_str());
    expect_queue(q[1], {"p2p2", "", "p4"}, "seqpacket pair, one way");
  }
  // Still connected to each other.
  ux::send_msg(d[1], "after");
  RT_CHECK(ux::recv_msg(d[0]) == "after", "datagram pair after restore");
  ux::send_msg(q[1], "after");
  RT_CHECK(ux::recv_msg(q[0]) == "after", "seqpacket pair after restore");

  RT_CHECK(ux::sock_name(server) == server_name, "server name '%s'", ux::sock_name(server).c_str());
  RT_CHECK(ux::sock_name(client) == "dgram-client.sock", "client name '%s'", ux::sock_name(client).c_str());
  RT_CHECK(ux::peer_name(client) == server_name, "client peer '%s'", ux::peer_name(client).c_str());
  std::string from;
  RT_CHECK(ux::recv_msg(server, &from) == "c1" && from == "dgram-client.sock", "server c1 from '%s'", from.c_str());
  RT_CHECK(ux::recv_msg(server, &from) == "u1" && from.empty(), "server u1 from '%s'", from.c_str());
  RT_CHECK(ux::recv_msg(server, &from) == "c2" && from == "dgram-client.sock", "server c2 from '%s'", from.c_str());
  ux::send_msg(client, "c3");
  RT_CHECK(ux::recv_msg(server, &from) == "c3" && from == "dgram-client.sock", "server c3 from '%s'", from.c_str());
  sockaddr_un ca;
  socklen_t calen = ux::addr("dgram-client.sock", ca);
  RT_CHECK(sendto(server, "s1", 2, 0, (sockaddr*)&ca, calen) == 2, "server sendto client: %s", strerror(errno));
  RT_CHECK(ux::recv_msg(client) == "s1", "client s1");
  struct stat st;
  RT_CHECK(stat("dgram-client.sock", &st) == 0 && S_ISSOCK(st.st_mode), "dgram-client.sock is gone");
  rt::pass();
}
