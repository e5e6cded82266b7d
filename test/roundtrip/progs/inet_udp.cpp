// UDP sockets across the round trip: an IPv4 socket bound with options
// (SO_BROADCAST, IP_TOS, IP_TTL, IP_PKTINFO, SO_RCVBUF, SO_RCVTIMEO) and
// five datagrams waiting in its queue (one empty, one of 60000 bytes, one
// from a socket gone since); a connected IPv4 socket (its port picked by
// the kernel); an IPv6 pair bound and connected, each with a datagram from
// the other waiting; a socket never bound.  After the restore every
// datagram comes back in order from its sender's address, and the sockets
// talk again.
#include "inetlib.h"

#include <sys/time.h>

#include <string>
#include <vector>

using namespace rt::inet;

namespace {

void send_on(int fd, const std::string& data) {
  RT_CHECK(send(fd, data.data(), data.size(), 0) == ssize_t(data.size()), "send on fd %d: %s", fd, strerror(errno));
}

// The next datagram of `fd` (which must have one) and its sender.
std::string receive(int fd, std::string* from) {
  static char buf[70000];
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
  RT_CHECK(n >= 0, "fd %d has no datagram: %s", fd, strerror(errno));
  *from = text_of(ss);
  return std::string(buf, size_t(n));
}

void expect_datagram(int fd, const std::string& want, const std::string& want_from) {
  std::string from;
  std::string got = receive(fd, &from);
  RT_CHECK(got == want, "fd %d: a datagram of %zu bytes ('%.10s'), want %zu ('%.10s')", fd, got.size(), got.c_str(),
           want.size(), want.c_str());
  RT_CHECK(from == want_from, "fd %d: datagram '%.10s' from %s, want from %s", fd, got.c_str(), from.c_str(),
           want_from.c_str());
}

void expect_opt(int fd, int level, int name, int want, const char* what) {
  int got = getopt_int(fd, level, name);
  RT_CHECK(got == want, "fd %d: %s is %d, want %d", fd, what, got, want);
}

}  // namespace

int main() {
  int r4 = udp_socket(AF_INET);
  setopt_int(r4, SOL_SOCKET, SO_BROADCAST, 1);
  setopt_int(r4, IPPROTO_IP, IP_TOS, 0x08);
  setopt_int(r4, IPPROTO_IP, IP_TTL, 33);
  setopt_int(r4, IPPROTO_IP, IP_PKTINFO, 1);
  setopt_int(r4, SOL_SOCKET, SO_RCVBUF, 300000);
  timeval tv{2, 500000};
  RT_CHECK(setsockopt(r4, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
  bind_to(r4, AF_INET, "127.0.0.1", 9000);
  int rcvbuf = getopt_int(r4, SOL_SOCKET, SO_RCVBUF);

  int c4 = udp_socket(AF_INET);
  connect_to(c4, AF_INET, "127.0.0.1", 9000);
  std::string c4_local = local_of(c4);

  int r6 = udp_socket(AF_INET6);
  setopt_int(r6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  bind_to(r6, AF_INET6, "::1", 9100);
  int c6 = udp_socket(AF_INET6);
  bind_to(c6, AF_INET6, "::1", 9101);
  connect_to(c6, AF_INET6, "::1", 9100);

  int unbound = udp_socket(AF_INET);
  setopt_int(unbound, IPPROTO_IP, IP_TTL, 7);

  std::string big(60000, 'b');
  for (int i = 0; i < 60000; i++) big[size_t(i)] = char('a' + i % 26);
  send_on(c4, "one");
  send_on(c4, "two");
  send_on(c4, "");
  send_on(c4, big);
  {
    int gone = udp_socket(AF_INET);
    bind_to(gone, AF_INET, "127.0.0.1", 9050);
    connect_to(gone, AF_INET, "127.0.0.1", 9000);
    send_on(gone, "four");
    close(gone);
  }
  send_on(c6, "six");
  socklen_t len;
  sockaddr_storage to_c6 = address(AF_INET6, "::1", 9101, &len);
  RT_CHECK(sendto(r6, "back", 4, 0, reinterpret_cast<sockaddr*>(&to_c6), len) == 4, "sendto c6");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(local_of(r4) == "127.0.0.1:9000", "r4 at %s", local_of(r4).c_str());
  RT_CHECK(local_of(c4) == c4_local, "c4 at %s, was %s", local_of(c4).c_str(), c4_local.c_str());
  RT_CHECK(peer_of(c4) == "127.0.0.1:9000", "c4 connected to %s", peer_of(c4).c_str());
  RT_CHECK(peer_of(r4) == "none", "r4 connected to %s", peer_of(r4).c_str());
  RT_CHECK(local_of(c6) == "::1:9101" && peer_of(c6) == "::1:9100", "c6 %s -> %s", local_of(c6).c_str(),
           peer_of(c6).c_str());
  RT_CHECK(local_of(unbound) == "0.0.0.0:0", "the unbound socket is at %s", local_of(unbound).c_str());

  expect_opt(r4, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST");
  expect_opt(r4, IPPROTO_IP, IP_TOS, 0x08, "IP_TOS");
  expect_opt(r4, IPPROTO_IP, IP_TTL, 33, "IP_TTL");
  expect_opt(r4, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  expect_opt(r4, SOL_SOCKET, SO_RCVBUF, rcvbuf, "SO_RCVBUF");
  expect_opt(r6, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
  expect_opt(unbound, IPPROTO_IP, IP_TTL, 7, "IP_TTL");
  expect_opt(c4, SOL_SOCKET, SO_BROADCAST, 0, "SO_BROADCAST");
  timeval got{};
  socklen_t tlen = sizeof(got);
  RT_CHECK(getsockopt(r4, SOL_SOCKET, SO_RCVTIMEO, &got, &tlen) == 0 && got.tv_sec == 2 && got.tv_usec == 500000,
           "SO_RCVTIMEO is %ld.%06ld", long(got.tv_sec), long(got.tv_usec));

  // The queues, in order, each datagram from its sender.
  expect_datagram(r4, "one", c4_local);
  expect_datagram(r4, "two", c4_local);
  expect_datagram(r4, "", c4_local);
  expect_datagram(r4, big, c4_local);
  expect_datagram(r4, "four", "127.0.0.1:9050");
  expect_datagram(r6, "six", "::1:9101");
  expect_datagram(c6, "back", "::1:9100");
  std::string from;
  char byte;
  for (int fd : {r4, c4, r6, c6})
    RT_CHECK(recv(fd, &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "fd %d has more datagrams", fd);

  // Talking again both ways.
  send_on(c4, "five");
  expect_datagram(r4, "five", c4_local);
  sockaddr_storage to_c4 = address(AF_INET, "127.0.0.1", std::stoi(c4_local.substr(c4_local.rfind(':') + 1)), &len);
  RT_CHECK(sendto(r4, "ack", 3, 0, reinterpret_cast<sockaddr*>(&to_c4), len) == 3, "sendto c4");
  expect_datagram(c4, "ack", "127.0.0.1:9000");
  send_on(c6, "seven");
  expect_datagram(r6, "seven", "::1:9101");
  rt::pass();
}
