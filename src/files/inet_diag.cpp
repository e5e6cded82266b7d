#include "files/inet_diag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>
#include <memory>

#include "ckpt/error.h"

namespace ckpt::files::diag {

namespace {

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};

// Sends one SOCK_DIAG_BY_FAMILY dump request and hands each answer to
// `each`.  `what` names the request for errors.
void dump(const void* req, size_t len, const std::function<void(nlmsghdr*)>& each, const char* what) {
  std::unique_ptr<nl_sock, SockDeleter> sk(nl_socket_alloc());
  if (!sk) throw Error(format("cannot ask the kernel about %s: out of memory", what));
  if (int err = nl_connect(sk.get(), NETLINK_SOCK_DIAG); err < 0)
    throw Error(format("cannot ask the kernel about %s: NETLINK_SOCK_DIAG: %s", what, nl_geterror(err)));
  if (int err = nl_send_simple(sk.get(), SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, const_cast<void*>(req), len); err < 0)
    throw Error(format("cannot ask the kernel about %s: %s", what, nl_geterror(err)));
  struct Ctx {
    const std::function<void(nlmsghdr*)>* each;
  } ctx{&each};
  auto on_valid = [](nl_msg* msg, void* arg) -> int {
    static_cast<Ctx*>(arg)->each->operator()(nlmsg_hdr(msg));
    return NL_OK;
  };
  nl_socket_modify_cb(sk.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ctx);
  if (int err = nl_recvmsgs_default(sk.get()); err < 0)
    throw Error(format("cannot ask the kernel about %s (is its sock_diag module loaded?): %s", what,
                       nl_geterror(err)));
}

InetSocket from_message(nlmsghdr* h, int protocol) {
  const auto* m = static_cast<const inet_diag_msg*>(nlmsg_data(h));
  InetSocket s;
  s.family = m->idiag_family;
  s.protocol = protocol;
  s.state = m->idiag_state;
  memcpy(s.src, m->id.idiag_src, sizeof(s.src));
  memcpy(s.dst, m->id.idiag_dst, sizeof(s.dst));
  s.sport = ntohs(m->id.idiag_sport);
  s.dport = ntohs(m->id.idiag_dport);
  s.inode = m->idiag_inode;
  s.rqueue = m->idiag_rqueue;
  s.wqueue = m->idiag_wqueue;
  s.uid = m->idiag_uid;
  nlattr* tb[INET_DIAG_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(inet_diag_msg), tb, INET_DIAG_MAX, nullptr) == 0 && tb[INET_DIAG_SHUTDOWN])
    s.shutdown = nla_get_u8(tb[INET_DIAG_SHUTDOWN]);
  return s;
}

}  // namespace

std::vector<InetSocket> inet_sockets(int family, int protocol, uint32_t states) {
  inet_diag_req_v2 req{};
  req.sdiag_family = uint8_t(family);
  req.sdiag_protocol = uint8_t(protocol);
  req.idiag_states = states;
  std::vector<InetSocket> out;
  dump(&req, sizeof(req), [&](nlmsghdr* h) {
    if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) out.push_back(from_message(h, protocol));
  }, protocol == IPPROTO_UDP ? "UDP sockets" : "TCP sockets");
  return out;
}

std::optional<InetSocket> find_inet(uint64_t inode, int protocol) {
  for (int family : {AF_INET, AF_INET6})
    for (const InetSocket& s : inet_sockets(family, protocol, ~0u))
      if (s.inode == inode) return s;
  return std::nullopt;
}

InetIndex::InetIndex(int protocol) {
  for (int family : {AF_INET, AF_INET6})
    for (const InetSocket& s : inet_sockets(family, protocol, ~0u))
      if (s.inode) by_inode_.emplace(s.inode, s);
}

const InetSocket* InetIndex::find(uint64_t inode) const {
  auto it = by_inode_.find(inode);
  return it == by_inode_.end() ? nullptr : &it->second;
}

std::string endpoint(int family, const uint8_t* addr, uint16_t port) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family, addr, text, sizeof(text));
  if (family == AF_INET6) return format("[%s]:%u", text, port);
  return format("%s:%u", text, port);
}

std::string tcp_state_name(int state) {
  static const char* const names[] = {"?",         "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1",
                                      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",    "CLOSE_WAIT", "LAST_ACK",
                                      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  if (state >= 0 && size_t(state) < sizeof(names) / sizeof(names[0])) return names[state];
  return format("state %d", state);
}

std::optional<NetlinkSocket> find_netlink(uint64_t inode) {
  netlink_diag_req req{};
  req.sdiag_family = AF_NETLINK;
  req.sdiag_protocol = NDIAG_PROTO_ALL;
  req.ndiag_show = NDIAG_SHOW_FLAGS | NDIAG_SHOW_MEMINFO;
  std::optional<NetlinkSocket> found;
  dump(&req, sizeof(req), [&](nlmsghdr* h) {
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(netlink_diag_msg))) return;
    const auto* m = static_cast<const netlink_diag_msg*>(nlmsg_data(h));
    if (m->ndiag_ino != inode) return;
    NetlinkSocket s;
    s.protocol = m->ndiag_protocol;
    s.portid = m->ndiag_portid;
    s.dst_portid = m->ndiag_dst_portid;
    s.dst_group = m->ndiag_dst_group;
    s.inode = m->ndiag_ino;
    nlattr* tb[NETLINK_DIAG_MAX + 1] = {};
    if (nlmsg_parse(h, sizeof(netlink_diag_msg), tb, NETLINK_DIAG_MAX, nullptr) == 0) {
      if (tb[NETLINK_DIAG_MEMINFO] && nla_len(tb[NETLINK_DIAG_MEMINFO]) >= int(sizeof(uint32_t)))
        s.rqueue = static_cast<const uint32_t*>(nla_data(tb[NETLINK_DIAG_MEMINFO]))[SK_MEMINFO_RMEM_ALLOC];
      if (tb[NETLINK_DIAG_FLAGS]) s.flags = nla_get_u32(tb[NETLINK_DIAG_FLAGS]);
    }
    found = s;
  }, "netlink sockets");
  return found;
}

}  // namespace ckpt::files::diag
