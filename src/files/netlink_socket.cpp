// Netlink sockets of the protocols whose kernel side keeps nothing per
// socket but its port id and multicast groups (NETLINK_ROUTE,
// NETLINK_SOCK_DIAG, NETLINK_GENERIC, NETLINK_KOBJECT_UEVENT).  Saved: the
// protocol, the bound port id, the groups (NETLINK_LIST_MEMBERSHIPS), the
// connected-to address, the options.  Restored: a new socket bound to the
// same port id, joined to the same groups.  Other protocols (netfilter
// queues, audit, ...) are refused by name, and so is a socket with messages
// not yet read or a dump in progress (the kernel would not send them again).
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/inet_diag.h"
#include "files/module.h"
#include "files/socket_kind.h"

namespace ckpt::files {

namespace {

bool restorable_protocol(int protocol) {
  switch (protocol) {
    case NETLINK_ROUTE:
    case NETLINK_SOCK_DIAG:
    case NETLINK_GENERIC:
    case NETLINK_KOBJECT_UEVENT:
      return true;
  }
  return false;
}

bool claims(const OpenFd& fd) { return S_ISSOCK(fd.st.st_mode) && socket_kind(fd).family == AF_NETLINK; }

std::string name_of(const diag::NetlinkSocket& s) {
  return format("its netlink socket (%s, port id %u)", netlink_protocol_name(s.protocol).c_str(), s.portid);
}

// Why a netlink socket of `protocol` cannot be dumped; "" if it can.  The
// kernel lists only bound sockets (`s`); one never bound has no port id,
// so nothing can be queued for it.
std::string refusal(int protocol, const std::optional<diag::NetlinkSocket>& s) {
  if (protocol >= 0 && !restorable_protocol(protocol))
    return format("AF_NETLINK socket (%s) is not supported yet: the kernel may keep state of its own for it",
                  netlink_protocol_name(protocol).c_str());
  if (!s) return "";
  if (s->flags & NDIAG_FLAG_CB_RUNNING)
    return name_of(*s) + " is in the middle of a dump the kernel sends it: not supported yet";
  if (s->rqueue)
    return name_of(*s) + format(" has %u bytes of messages not yet read, which the kernel would not send again: "
                                "not supported yet",
                                s->rqueue);
  return "";
}

std::string blocker(const OpenFd& fd, const DumpFdOptions&) {
  try {
    std::optional<diag::NetlinkSocket> s = diag::find_netlink(fd.st.st_ino);
    // Without an fd, the protocol of a socket the kernel does not list is
    // unknown here: dump() looks again.
    return refusal(s ? s->protocol : -1, s);
  } catch (const Error& e) {
    return e.what();
  }
}

int get_int(int fd, int level, int name, bool* ok = nullptr) {
  int v = 0;
  socklen_t len = sizeof(v);
  bool got = getsockopt(fd, level, name, &v, &len) == 0;
  if (ok) *ok = got;
  return v;
}

// The netlink options, each with its field.
using Entry = img::NetlinkSocketEntry;
struct NlOption {
  const char* name;
  int level, optname;
  bool (Entry::*has)() const;
  int32_t (Entry::*get)() const;
  void (Entry::*set)(int32_t);
  int force_optname;
  bool halve;
};
#define NLOPT(level, optname, field) \
  NlOption { #optname, level, optname, &Entry::has_##field, &Entry::field, &Entry::set_##field, 0, false }
const NlOption kOptions[] = {
    NLOPT(SOL_NETLINK, NETLINK_PKTINFO, pktinfo),
    NLOPT(SOL_NETLINK, NETLINK_BROADCAST_ERROR, broadcast_error),
    NLOPT(SOL_NETLINK, NETLINK_NO_ENOBUFS, no_enobufs),
    NLOPT(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, listen_all_nsid),
    NLOPT(SOL_NETLINK, NETLINK_CAP_ACK, cap_ack),
    NLOPT(SOL_NETLINK, NETLINK_EXT_ACK, ext_ack),
    NLOPT(SOL_NETLINK, NETLINK_GET_STRICT_CHK, get_strict_chk),
    NLOPT(SOL_SOCKET, SO_PASSCRED, passcred),
    NlOption{"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, &Entry::has_sndbuf, &Entry::sndbuf, &Entry::set_sndbuf,
             SO_SNDBUFFORCE, true},
    NlOption{"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, &Entry::has_rcvbuf, &Entry::rcvbuf, &Entry::set_rcvbuf,
             SO_RCVBUFFORCE, true},
};
#undef NLOPT

std::vector<uint32_t> groups_of(int fd) {
  std::vector<uint32_t> words(8);
  socklen_t len = socklen_t(words.size() * sizeof(uint32_t));
  if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words.data(), &len) != 0)
    throw sys_error("cannot list its multicast groups (NETLINK_LIST_MEMBERSHIPS)");
  if (len > words.size() * sizeof(uint32_t)) {
    words.resize((len + 3) / 4);
    len = socklen_t(words.size() * sizeof(uint32_t));
    if (getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words.data(), &len) != 0)
      throw sys_error("cannot list its multicast groups (NETLINK_LIST_MEMBERSHIPS)");
  }
  std::vector<uint32_t> groups;
  for (size_t w = 0; w < len / 4; w++)
    for (int bit = 0; bit < 32; bit++)
      if (words[w] & (1u << bit)) groups.push_back(uint32_t(w * 32 + bit + 1));
  return groups;
}

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  int sock = fd.file.get();
  int protocol = get_int(sock, SOL_SOCKET, SO_PROTOCOL);
  std::optional<diag::NetlinkSocket> s = diag::find_netlink(fd.st.st_ino);
  if (std::string why = refusal(protocol, s); !why.empty()) throw Error(why);
  Entry* e = entry.mutable_netlink_sk();
  e->set_protocol(uint32_t(protocol));
  e->set_type(uint32_t(get_int(sock, SOL_SOCKET, SO_TYPE)));
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  e->set_uid(fd.st.st_uid);
  sockaddr_nl local{};
  socklen_t len = sizeof(local);
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&local), &len) != 0) throw sys_error("getsockname");
  if (local.nl_pid) e->set_portid(local.nl_pid);
  for (uint32_t g : groups_of(sock)) e->add_groups(g);
  if (s && s->dst_portid) e->set_dst_portid(s->dst_portid);
  if (s && s->dst_group) e->set_dst_group(s->dst_group);
  for (const NlOption& o : kOptions) {
    bool ok = false;
    int v = get_int(sock, o.level, o.optname, &ok);
    if (ok) (e->*o.set)(v);
  }
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_netlink_sk()) throw Error("its file entry has no netlink socket");
  const Entry& e = entry.netlink_sk();
  if (!restorable_protocol(int(e.protocol())))
    throw Error(format("netlink protocol %u cannot be restored", e.protocol()));
  if (e.type() != SOCK_RAW && e.type() != SOCK_DGRAM) throw Error(format("bad netlink socket type %u", e.type()));
  for (uint32_t g : e.groups())
    if (g == 0 || g > 1024) throw Error(format("bad netlink group %u", g));
}

void apply_options(int fd, const Entry& e) {
  for (const NlOption& o : kOptions) {
    if (!(e.*o.has)()) continue;
    int want = (e.*o.get)();
    if (get_int(fd, o.level, o.optname) == want) continue;
    int value = o.halve ? want / 2 : want;
    if (setsockopt(fd, o.level, o.force_optname ? o.force_optname : o.optname, &value, sizeof(value)) != 0)
      throw sys_error(format("cannot set %s to %d", o.name, value));
  }
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget&) {
  check(entry, RestoreFdOptions{});
  const Entry& e = entry.netlink_sk();
  UniqueFd s(socket(AF_NETLINK, int(e.type()) | SOCK_CLOEXEC, int(e.protocol())));
  if (!s) throw sys_error(format("cannot make its %s socket", netlink_protocol_name(int(e.protocol())).c_str()));
  if (e.has_uid() && e.uid() != geteuid() && fchown(s.get(), e.uid(), uid_t(-1)) != 0)
    throw sys_error(format("cannot give its socket to uid %u", e.uid()));
  apply_options(s.get(), e);
  if (e.has_portid()) {
    sockaddr_nl a{};
    a.nl_family = AF_NETLINK;
    a.nl_pid = e.portid();
    if (bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
      throw sys_error(format("cannot bind it to its port id %u", e.portid()));
  }
  for (uint32_t g : e.groups()) {
    int group = int(g);
    if (setsockopt(s.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0)
      throw sys_error(format("cannot join its multicast group %u", g));
  }
  if (e.has_dst_portid() || e.has_dst_group()) {
    sockaddr_nl a{};
    a.nl_family = AF_NETLINK;
    a.nl_pid = e.dst_portid();
    a.nl_groups = e.dst_group() ? 1u << (e.dst_group() - 1) : 0;
    if (e.dst_group() > 32) throw Error(format("it sends to group %u, which connect() cannot name", e.dst_group()));
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
      throw sys_error(format("cannot connect it to port id %u", e.dst_portid()));
  }
  if ((e.flags() & O_NONBLOCK) && fcntl(s.get(), F_SETFL, O_NONBLOCK) != 0) throw sys_error("cannot set O_NONBLOCK");
  return s;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_netlink_sk()) return "?";
  const Entry& e = entry.netlink_sk();
  std::string groups;
  for (uint32_t g : e.groups()) groups += (groups.empty() ? "" : ",") + std::to_string(g);
  return format("%s port id %u, groups [%s] (flags 0%o)", netlink_protocol_name(int(e.protocol())).c_str(),
                e.portid(), groups.c_str(), e.flags());
}

}  // namespace

const FileModule kNetlinkSocketModule = {
    .kind = img::FILE_NETLINK_SOCKET,
    .name = "netlink socket",
    .open_per_fd = false,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
