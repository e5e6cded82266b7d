// Multicast group memberships across the round trip: an IPv4 socket in
// 239.1.2.3 on lo (by interface index) and in 239.1.2.4 (by lo's address,
// the kernel picking the interface); another in 239.1.2.5 for one source
// only (INCLUDE) and in 239.1.2.6 with a source blocked (EXCLUDE); an
// IPv6 socket in ff15::1234 on lo and, through IPPROTO_IP, in 239.1.2.7.
// After the restore each membership and filter is back as getsockopt
// (MCAST_MSFILTER) shows it, no other group is joined, and datagrams sent
// to the IPv4 groups from another socket arrive (multicast loop on lo;
// IPv6 multicast is not delivered on lo, so only its membership is checked).
#include "inetlib.h"

#include <net/if.h>
#include <poll.h>

#include <string>
#include <vector>

using namespace rt::inet;

namespace {

sockaddr_storage addr_of(int family, const char* text) {
  socklen_t len;
  return address(family, text, 0, &len);
}

void join(int fd, int level, int ifindex, int family, const char* group) {
  group_req r{};
  r.gr_interface = uint32_t(ifindex);
  r.gr_group = addr_of(family, group);
  RT_CHECK(setsockopt(fd, level, MCAST_JOIN_GROUP, &r, sizeof(r)) == 0, "join %s: %s", group, strerror(errno));
}

void source_op(int fd, int op, int ifindex, const char* group, const char* source) {
  group_source_req r{};
  r.gsr_interface = uint32_t(ifindex);
  r.gsr_group = addr_of(AF_INET, group);
  r.gsr_source = addr_of(AF_INET, source);
  RT_CHECK(setsockopt(fd, IPPROTO_IP, op, &r, sizeof(r)) == 0, "source %s of %s: %s", source, group, strerror(errno));
}

// The filter of `fd` in `group` on `ifindex`: "exclude" / "include
// 127.0.0.1 ...", or "none" if it is not a member.
std::string filter_of(int fd, int level, int ifindex, int family, const char* group) {
  std::vector<char> buf(GROUP_FILTER_SIZE(8));
  auto* gf = reinterpret_cast<group_filter*>(buf.data());
  gf->gf_interface = uint32_t(ifindex);
  gf->gf_group = addr_of(family, group);
  gf->gf_numsrc = 8;
  socklen_t len = socklen_t(buf.size());
  if (getsockopt(fd, level, MCAST_MSFILTER, gf, &len) != 0) {
    RT_CHECK(errno == EADDRNOTAVAIL, "MCAST_MSFILTER of %s: %s", group, strerror(errno));
    return "none";
  }
  std::string out = gf->gf_fmode == MCAST_INCLUDE ? "include" : "exclude";
  for (uint32_t i = 0; i < gf->gf_numsrc && i < 8; i++) {
    std::string s = text_of(gf->gf_slist[i]);
    out += " " + s.substr(0, s.rfind(':'));
  }
  return out;
}

void expect_filter(int fd, int level, int ifindex, int family, const char* group, const std::string& want) {
  std::string got = filter_of(fd, level, ifindex, family, group);
  RT_CHECK(got == want, "fd %d in %s: %s, want %s", fd, group, got.c_str(), want.c_str());
}

// Sends to group:port from a socket of its own bound to `from`, and
// expects `fd` to receive it.
void expect_delivery(int fd, int family, const char* group, int port, const char* from, int lo) {
  int s = udp_socket(family);
  bind_to(s, family, from, 0);
  (void)from;
  if (family == AF_INET) {
    ip_mreqn m{};
    m.imr_ifindex = lo;
    RT_CHECK(setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m)) == 0, "IP_MULTICAST_IF: %s", strerror(errno));
  } else {
    setopt_int(s, IPPROTO_IPV6, IPV6_MULTICAST_IF, lo);
  }
  socklen_t len;
  sockaddr_storage to = address(family, group, port, &len);
  std::string msg = std::string("to ") + group;
  RT_CHECK(sendto(s, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), len) == ssize_t(msg.size()),
           "sendto %s: %s", group, strerror(errno));
  pollfd p{fd, POLLIN, 0};
  RT_CHECK(poll(&p, 1, 2000) == 1, "fd %d: nothing arrived for %s", fd, group);
  char buf[100];
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  RT_CHECK(n == ssize_t(msg.size()) && memcmp(buf, msg.data(), msg.size()) == 0, "fd %d: a wrong datagram for %s",
           fd, group);
  close(s);
}

}  // namespace

int main() {
  int lo = int(if_nametoindex("lo"));
  RT_CHECK(lo > 0, "no lo");

  int a = udp_socket(AF_INET);
  bind_to(a, AF_INET, "0.0.0.0", 7000);
  ip_mreqn m{};
  inet_pton(AF_INET, "239.1.2.3", &m.imr_multiaddr);
  m.imr_ifindex = lo;
  RT_CHECK(setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) == 0, "IP_ADD_MEMBERSHIP: %s", strerror(errno));
  ip_mreq old{};
  inet_pton(AF_INET, "239.1.2.4", &old.imr_multiaddr);
  inet_pton(AF_INET, "127.0.0.1", &old.imr_interface);  // the kernel finds lo
  RT_CHECK(setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &old, sizeof(old)) == 0, "IP_ADD_MEMBERSHIP by address: %s",
           strerror(errno));

  int b = udp_socket(AF_INET);
  bind_to(b, AF_INET, "0.0.0.0", 7001);
  source_op(b, MCAST_JOIN_SOURCE_GROUP, lo, "239.1.2.5", "127.0.0.1");
  join(b, IPPROTO_IP, lo, AF_INET, "239.1.2.6");
  source_op(b, MCAST_BLOCK_SOURCE, lo, "239.1.2.6", "10.9.8.7");

  int c = udp_socket(AF_INET6);
  bind_to(c, AF_INET6, "::", 7002);  // dual stack: IPv4 groups too
  join(c, IPPROTO_IPV6, lo, AF_INET6, "ff15::1234");
  join(c, IPPROTO_IP, lo, AF_INET, "239.1.2.7");

  auto check_all = [&] {
    expect_filter(a, IPPROTO_IP, lo, AF_INET, "239.1.2.3", "exclude");
    expect_filter(a, IPPROTO_IP, lo, AF_INET, "239.1.2.4", "exclude");
    expect_filter(a, IPPROTO_IP, lo, AF_INET, "239.1.2.5", "none");
    expect_filter(b, IPPROTO_IP, lo, AF_INET, "239.1.2.5", "include 127.0.0.1");
    expect_filter(b, IPPROTO_IP, lo, AF_INET, "239.1.2.6", "exclude 10.9.8.7");
    expect_filter(b, IPPROTO_IP, lo, AF_INET, "239.1.2.3", "none");
    expect_filter(c, IPPROTO_IPV6, lo, AF_INET6, "ff15::1234", "exclude");
    expect_filter(c, IPPROTO_IP, lo, AF_INET, "239.1.2.7", "exclude");
    expect_filter(c, IPPROTO_IPV6, lo, AF_INET6, "ff15::1235", "none");
  };
  check_all();

  rt::block_term();
  rt::ready();
  rt::wait_term();

  check_all();
  expect_delivery(a, AF_INET, "239.1.2.3", 7000, "127.0.0.1", lo);
  expect_delivery(a, AF_INET, "239.1.2.4", 7000, "127.0.0.1", lo);
  expect_delivery(b, AF_INET, "239.1.2.5", 7001, "127.0.0.1", lo);
  expect_delivery(b, AF_INET, "239.1.2.6", 7001, "127.0.0.1", lo);
  // (IPv6 multicast is not looped back on lo here: its membership is checked only.)
  expect_delivery(c, AF_INET, "239.1.2.7", 7002, "127.0.0.1", lo);
  rt::pass();
}
