// Netlink sockets across the round trip: a NETLINK_ROUTE socket with the
// port id the kernel gave it, subscribed to link and address groups (by
// bind and by NETLINK_ADD_MEMBERSHIP), with options; a NETLINK_GENERIC one
// bound to a port id of its choosing; a NETLINK_SOCK_DIAG one never bound.
// After the restore: the same port ids and groups, a dump request answered,
// and an address added to lo announced to the subscribed socket.
#include "inetlib.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <vector>

using namespace rt::inet;

namespace {

uint32_t portid_of(int fd) {
  sockaddr_nl a{};
  socklen_t len = sizeof(a);
  RT_CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0, "getsockname");
  return a.nl_pid;
}

std::vector<uint32_t> groups_of(int fd) {
  uint32_t words[4] = {};
  socklen_t len = sizeof(words);
  RT_CHECK(getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &len) == 0, "NETLINK_LIST_MEMBERSHIPS");
  std::vector<uint32_t> out;
  for (size_t w = 0; w < len / 4 && w < 4; w++)
    for (int b = 0; b < 32; b++)
      if (words[w] & (1u << b)) out.push_back(uint32_t(w * 32 + b + 1));
  return out;
}

std::string text(const std::vector<uint32_t>& v) {
  std::string s;
  for (uint32_t g : v) s += std::to_string(g) + " ";
  return s;
}

// Reads messages of `fd` (bounded) until one of `type` comes.
bool receives(int fd, int type) {
  static char buf[32768];
  double deadline = rt::now_seconds() + 5;
  while (rt::now_seconds() < deadline) {
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n))
      if (h->nlmsg_type == type) return true;
  }
  return false;
}

void add_address_to_lo(const char* addr) {
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct {
    nlmsghdr h;
    ifaddrmsg a;
    char attrs[64];
  } req{};
  req.h.nlmsg_type = RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  req.a.ifa_family = AF_INET;
  req.a.ifa_prefixlen = 8;
  req.a.ifa_scope = RT_SCOPE_HOST;  // (what ip gives a loopback address)
  req.a.ifa_index = if_nametoindex("lo");
  auto* rta = reinterpret_cast<rtattr*>(req.attrs);
  rta->rta_type = IFA_LOCAL;
  rta->rta_len = RTA_LENGTH(4);
  inet_pton(AF_INET, addr, RTA_DATA(rta));
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg)) + RTA_ALIGN(rta->rta_len);
  RT_CHECK(send(nl, &req, req.h.nlmsg_len, 0) == ssize_t(req.h.nlmsg_len), "RTM_NEWADDR");
  char buf[4096];
  ssize_t n = recv(nl, buf, sizeof(buf), 0);
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  RT_CHECK(n > 0 && h->nlmsg_type == NLMSG_ERROR, "no answer to RTM_NEWADDR");
  int err = static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
  RT_CHECK(err == 0, "RTM_NEWADDR %s: %s", addr, strerror(-err));
  close(nl);
}

}  // namespace

int main() {
  int route = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  RT_CHECK(route >= 0, "socket");
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  a.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR;
  RT_CHECK(bind(route, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, "bind route");
  setopt_int(route, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_IPV6_IFADDR);
  setopt_int(route, SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
  setopt_int(route, SOL_NETLINK, NETLINK_EXT_ACK, 1);
  setopt_int(route, SOL_SOCKET, SO_RCVBUF, 1 << 20);

  int generic = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_GENERIC);
  RT_CHECK(generic >= 0, "socket generic");
  sockaddr_nl g{};
  g.nl_family = AF_NETLINK;
  g.nl_pid = 0x7e57;
  RT_CHECK(bind(generic, reinterpret_cast<sockaddr*>(&g), sizeof(g)) == 0, "bind generic: %s", strerror(errno));
  int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
  RT_CHECK(diag >= 0, "socket diag");

  uint32_t route_port = portid_of(route);
  RT_CHECK(route_port != 0, "the route socket has no port id");
  std::vector<uint32_t> groups = groups_of(route);
  int rcvbuf = getopt_int(route, SOL_SOCKET, SO_RCVBUF);

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(portid_of(route) == route_port, "route port id %u, want %u", portid_of(route), route_port);
  RT_CHECK(portid_of(generic) == 0x7e57, "generic port id %u", portid_of(generic));
  RT_CHECK(portid_of(diag) == 0, "the diag socket got port id %u", portid_of(diag));
  RT_CHECK(groups_of(route) == groups, "groups %s, want %s", text(groups_of(route)).c_str(), text(groups).c_str());
  RT_CHECK(getopt_int(route, SOL_NETLINK, NETLINK_NO_ENOBUFS) == 1, "NETLINK_NO_ENOBUFS");
  RT_CHECK(getopt_int(route, SOL_NETLINK, NETLINK_EXT_ACK) == 1, "NETLINK_EXT_ACK");
  RT_CHECK(getopt_int(route, SOL_SOCKET, SO_RCVBUF) == rcvbuf, "SO_RCVBUF");
  RT_CHECK(getopt_int(generic, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM, "generic type");
  RT_CHECK(getopt_int(diag, SOL_SOCKET, SO_PROTOCOL) == NETLINK_SOCK_DIAG, "diag protocol");
  RT_CHECK(fcntl(diag, F_GETFL) & O_NONBLOCK, "diag lost O_NONBLOCK");

  // The subscription works: an address added to lo is announced.
  // (A new address each run: a restore from the same images runs again.)
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  std::string addr = "127." + std::to_string(t.tv_nsec % 250 + 1) + "." + std::to_string(t.tv_sec % 250 + 1) + ".5";
  add_address_to_lo(addr.c_str());
  RT_CHECK(receives(route, RTM_NEWADDR), "no RTM_NEWADDR announced to the subscribed socket");
  // And requests are answered.
  struct {
    nlmsghdr h;
    rtgenmsg g;
  } req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.g.rtgen_family = AF_UNSPEC;
  RT_CHECK(send(route, &req, sizeof(req), 0) == ssize_t(sizeof(req)), "RTM_GETLINK");
  RT_CHECK(receives(route, RTM_NEWLINK), "no answer to RTM_GETLINK");
  rt::pass();
}
