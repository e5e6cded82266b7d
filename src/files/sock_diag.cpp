// NETLINK_SOCK_DIAG through libnl3: one request, its replies collected by a
// callback and their attributes parsed with nla_parse.
#include "files/sock_diag.h"

#include <linux/sock_diag.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <memory>

#include "ckpt/error.h"

namespace ckpt::files::sockdiag {

void Record::throw_short_header() { throw Error("a sock_diag reply is shorter than its header"); }

namespace {

struct SocketDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};

struct Collect {
  size_t header_len;
  int max_attr;
  std::vector<Record>* out;
  std::string error;  // a malformed reply, reported after nl_recvmsgs
};

int on_reply(nl_msg* msg, void* arg) {
  Collect& c = *static_cast<Collect*>(arg);
  nlmsghdr* hdr = nlmsg_hdr(msg);
  if (hdr->nlmsg_type != SOCK_DIAG_BY_FAMILY) return NL_SKIP;
  if (nlmsg_datalen(hdr) < int(c.header_len)) {
    c.error = "a sock_diag reply is shorter than its header";
    return NL_STOP;
  }
  Record r;
  auto* data = static_cast<const uint8_t*>(nlmsg_data(hdr));
  r.header.assign(data, data + c.header_len);
  std::vector<nlattr*> tb(size_t(c.max_attr) + 1, nullptr);
  if (nla_parse(tb.data(), c.max_attr, nlmsg_attrdata(hdr, int(c.header_len)), nlmsg_attrlen(hdr, int(c.header_len)),
                nullptr) < 0) {
    c.error = "a sock_diag reply has malformed attributes";
    return NL_STOP;
  }
  for (int type = 0; type <= c.max_attr; type++) {
    if (!tb[size_t(type)]) continue;
    auto* p = static_cast<const uint8_t*>(nla_data(tb[size_t(type)]));
    r.attrs[type].assign(p, p + nla_len(tb[size_t(type)]));
  }
  c.out->push_back(std::move(r));
  return NL_OK;
}

}  // namespace

std::vector<Record> query(const void* request, size_t request_len, bool dump, size_t header_len, int max_attr) {
  std::unique_ptr<nl_sock, SocketDeleter> sk(nl_socket_alloc());
  if (!sk) throw Error("cannot allocate a netlink socket");
  // The kernel acknowledges a dump with NLMSG_DONE, a query with its reply.
  nl_socket_disable_auto_ack(sk.get());
  int err = nl_connect(sk.get(), NETLINK_SOCK_DIAG);
  if (err < 0) throw Error(std::string("cannot connect to NETLINK_SOCK_DIAG: ") + nl_geterror(err));
  std::vector<Record> out;
  Collect c{header_len, max_attr, &out, {}};
  err = nl_socket_modify_cb(sk.get(), NL_CB_VALID, NL_CB_CUSTOM, on_reply, &c);
  if (err < 0) throw Error(std::string("cannot set a netlink callback: ") + nl_geterror(err));
  int flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
  err = nl_send_simple(sk.get(), SOCK_DIAG_BY_FAMILY, flags, const_cast<void*>(request), request_len);
  if (err < 0) throw Error(std::string("cannot send a sock_diag request: ") + nl_geterror(err));
  err = nl_recvmsgs_default(sk.get());
  // A query of a socket gone or never there: the kernel answers ENOENT.
  if (!dump && err == -NLE_OBJ_NOTFOUND) return {};
  if (err < 0) throw Error(std::string("sock_diag failed: ") + nl_geterror(err));
  if (!c.error.empty()) throw Error(c.error);
  return out;
}

}  // namespace ckpt::files::sockdiag
