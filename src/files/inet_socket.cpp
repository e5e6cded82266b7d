// Inet sockets: TCP sockets listening, never connected or established
// (the connection itself: tcp_connection.h), UDP sockets bound, connected
// or neither (IPv4 and IPv6).
// Saved: family, protocol, addresses, backlog, owner, file flags, options
// (socket_options.h) and, for UDP, the datagrams waiting to be read and the
// multicast group memberships (inet_multicast.h).
// Restored: a new socket with its options, bound to its address, given its
// datagrams back, then listening or connected as it was.  Established
// connections need --tcp-established; the other TCP states are refused by
// name, and so is a listener with connections waiting in its accept queue
// (unless --skip-in-flight drops them).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/inet_address.h"
#include "files/inet_diag.h"
#include "files/inet_multicast.h"
#include "files/module.h"
#include "files/tcp_connection.h"
#include "files/socket_kind.h"
#include "files/socket_options.h"

namespace ckpt::files {

namespace {

constexpr int kTcpBoundInactive = 13;  // TCP_BOUND_INACTIVE (Linux 6.10): bound, not listening

bool is_tcp_or_udp(const SocketKind& k) {
  if (k.family != AF_INET && k.family != AF_INET6) return false;
  return (k.type == SOCK_STREAM && k.protocol == IPPROTO_TCP) || (k.type == SOCK_DGRAM && k.protocol == IPPROTO_UDP);
}

bool claims(const OpenFd& fd) { return S_ISSOCK(fd.st.st_mode) && is_tcp_or_udp(socket_kind(fd)); }

// ---- refusals ----------------------------------------------------------------

std::string diag_connection_text(const diag::InetSocket& s) {
  return diag::endpoint(s.family, s.src, s.sport) + " -> " + diag::endpoint(s.family, s.dst, s.dport);
}

// Why a TCP socket in state `state` (connection `what`) cannot be dumped;
// "" if it can.
std::string tcp_state_refusal(int state, const std::string& what, const DumpFdOptions& opts) {
  if (state == TCP_LISTEN || state == TCP_CLOSE || state == kTcpBoundInactive) return "";
  if (state == TCP_ESTABLISHED)
    return opts.tcp_established || opts.tcp_close
               ? ""
               : format("established TCP connection %s: use --tcp-established", what.c_str());
  return format("TCP connection %s in state %s is not supported yet%s", what.c_str(),
                diag::tcp_state_name(state).c_str(), opts.tcp_established ? ", even with --tcp-established" : "");
}

// The connections waiting in the accept queue of the listener `l`: sockets
// of its port that no process holds yet (inode 0), established or already
// closed by their peer.  They cannot be put back into a listener's queue:
// refused, or dropped with --skip-in-flight.
std::string accept_queue_refusal(const diag::InetSocket& l, uint32_t waiting, const DumpFdOptions& opts) {
  if (l.state != TCP_LISTEN || waiting == 0 || opts.skip_in_flight) return "";
  const char* how = "connections not accepted yet cannot be restored; use --skip-in-flight to drop them";
  uint32_t states = (1u << TCP_ESTABLISHED) | (1u << TCP_CLOSE_WAIT);
  for (const diag::InetSocket& c : diag::inet_sockets(l.family, IPPROTO_TCP, states)) {
    bool same_address = memcmp(c.src, l.src, sizeof(l.src)) == 0 ||
                        std::all_of(l.src, l.src + sizeof(l.src), [](uint8_t b) { return b == 0; });
    if (c.inode != 0 || c.sport != l.sport || !same_address) continue;
    return format("a connection %s <- %s waits in its accept queue%s: %s",
                  diag::endpoint(c.family, c.src, c.sport).c_str(), diag::endpoint(c.family, c.dst, c.dport).c_str(),
                  waiting > 1 ? format(" (with %u others)", waiting - 1).c_str() : "", how);
  }
  return format("%u connections wait in the accept queue of its listening socket %s: %s", waiting,
                diag::endpoint(l.family, l.src, l.sport).c_str(), how);
}

std::string blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  if (socket_kind(fd).protocol != IPPROTO_TCP) return "";
  try {
    std::optional<diag::InetSocket> s;
    if (opts.tcp_sockets) {
      if (const diag::InetSocket* found = opts.tcp_sockets->find(fd.st.st_ino)) s = *found;
    } else {
      s = diag::find_inet(fd.st.st_ino, IPPROTO_TCP);
    }
    // Not listed: never bound, or bound only (CLOSE).  dump() looks again.
    if (!s) return "";
    std::string why = tcp_state_refusal(s->state, diag_connection_text(*s), opts);
    return why.empty() ? accept_queue_refusal(*s, s->rqueue, opts) : why;
  } catch (const Error& e) {
    return e.what();
  }
}

// ---- dump ----------------------------------------------------------------------

// The TCP state of our duplicate; the kernel lists CLOSE sockets only when
// bound (and only since Linux 6.10), TCP_INFO knows them all.
tcp_info tcp_info_of(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) throw sys_error("cannot read its TCP_INFO");
  return info;
}

std::string connection_of(int fd) {
  std::optional<InetAddress> local = local_address(fd), remote = peer_address(fd);
  return (local ? local->text() : "?") + " -> " + (remote ? remote->text() : "?");
}

void dump_listener(const OpenFd& fd, const DumpFdContext& ctx, const tcp_info& info, img::InetSocketEntry& e) {
  std::optional<diag::InetSocket> s;
  if (const diag::InetSocket* found = ctx.opts.tcp_sockets ? ctx.opts.tcp_sockets->find(fd.st.st_ino) : nullptr)
    s = *found;
  else
    s = diag::find_inet(fd.st.st_ino, IPPROTO_TCP);
  if (!s) throw Error("its listening socket is not listed by the kernel's socket diagnostics");
  // TCP_INFO of a listener counts its accept queue now (tcpi_unacked).
  s->state = TCP_LISTEN;
  if (std::string why = accept_queue_refusal(*s, info.tcpi_unacked, ctx.opts); !why.empty()) throw Error(why);
  if (info.tcpi_unacked)
    LOG_WARN("fd %d of pid %d: %u connections waiting in the accept queue of %s are dropped (--skip-in-flight)",
             fd.fd, fd.pid, info.tcpi_unacked, diag::endpoint(s->family, s->src, s->sport).c_str());
  e.set_backlog(s->wqueue);
}

void dump_tcp(const OpenFd& fd, const DumpFdContext& ctx, img::InetSocketEntry& e) {
  int sock = fd.file.get();
  tcp_info info = tcp_info_of(sock);
  e.set_state(info.tcpi_state);
  if (info.tcpi_state == TCP_LISTEN) return dump_listener(fd, ctx, info, e);
  if (std::string why = tcp_state_refusal(info.tcpi_state, connection_of(sock), ctx.opts); !why.empty())
    throw Error(why);
  if (info.tcpi_state == TCP_ESTABLISHED && ctx.opts.tcp_close) {
    save_closed_connection(sock, e);
    return;
  }
  if (info.tcpi_state == TCP_ESTABLISHED) {
    if (!ctx.opts.tcp_repairs) throw Error("established TCP connections are not saved by this dump");
    save_connection(sock, e, *ctx.opts.tcp_repairs);
    return;
  }
  // A socket whose connection ended (or failed) is CLOSE too; connect()
  // gave it a receive MSS, which a new socket has not.
  if (info.tcpi_state == TCP_CLOSE && info.tcpi_rcv_mss != 0)
    throw Error("TCP socket whose connection has ended or failed (state CLOSE) is not supported yet");
}

// The datagrams of the receive queue, read without taking them: a peek
// offset (SO_PEEK_OFF) makes each MSG_PEEK return the next one.  The
// process's own peek offset is put back afterwards.
void save_datagrams(int fd, img::InetSocketEntry& e) {
  int old_off = -1;
  socklen_t len = sizeof(old_off);
  getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &old_off, &len);
  int zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) != 0)
    throw sys_error("cannot read its queued datagrams: SO_PEEK_OFF");
  std::vector<char> buf(256 * 1024);
  std::string error;
  for (;;) {
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = format("cannot read its queued datagrams: %s", strerror(errno));
      break;
    }
    if (size_t(n) > buf.size()) {
      error = format("a datagram of %zd bytes waits in its queue, more than ckpt reads", n);
      break;
    }
    img::QueuedDatagram* d = e.add_queue();
    d->set_data(buf.data(), size_t(n));
    if (msg.msg_namelen > 0 && (from.ss_family == AF_INET || from.ss_family == AF_INET6)) {
      InetAddress a = from_sockaddr(from);
      d->set_addr(a.addr, a.addr_len());
      d->set_port(a.port);
    }
  }
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof(old_off));
  if (!error.empty()) throw Error(error);
}

void dump_udp(const OpenFd& fd, img::InetSocketEntry& e) {
  std::optional<InetAddress> peer = peer_address(fd.file.get());
  e.set_state(peer ? TCP_ESTABLISHED : TCP_CLOSE);
  if (peer) {
    e.set_dst_addr(peer->addr, peer->addr_len());
    e.set_dst_port(peer->port);
    if (peer->scope_id) e.set_dst_scope_id(peer->scope_id);
  }
  // Which directions were shut down only the kernel's diagnostics say
  // (udp_diag); a connected socket is the one that can have any.
  if (peer) {
    try {
      if (std::optional<diag::InetSocket> s = diag::find_inet(fd.st.st_ino, IPPROTO_UDP); s && s->shutdown > 0)
        e.set_shutdown(uint32_t(s->shutdown));
    } catch (const Error& err) {
      LOG_WARN("fd %d of pid %d: its shutdown state is not saved: %s", fd.fd, fd.pid, err.what());
    }
  }
  save_datagrams(fd.file.get(), e);
  if (e.queue_size())
    LOG_INFO("fd %d of pid %d: %d datagrams queued, saved", fd.fd, fd.pid, e.queue_size());
}

// A filter attached to the socket is not saved yet: refused rather than
// lost.  SO_GET_FILTER with no room says how long a classic one is, and
// EACCES for an eBPF one (which has no classic form).
void refuse_filter(int fd) {
  socklen_t len = 0;
  int r = getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &len);
  if ((r == 0 && len > 0) || (r < 0 && errno == EACCES))
    throw Error("it has a socket filter attached (SO_ATTACH_FILTER or SO_ATTACH_BPF), which is not supported yet");
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  refuse_filter(fd.file.get());
  SocketKind k = socket_kind(fd);
  img::InetSocketEntry* e = entry.mutable_inet_sk();
  e->set_family(uint32_t(k.family));
  e->set_type(uint32_t(k.type));
  e->set_protocol(uint32_t(k.protocol));
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  e->set_uid(fd.st.st_uid);
  if (k.protocol == IPPROTO_TCP) dump_tcp(fd, ctx, *e);
  else dump_udp(fd, *e);
  if (k.protocol == IPPROTO_UDP) dump_multicast(fd.file.get(), k.family, *e);
  std::optional<InetAddress> local = local_address(fd.file.get());
  if (!local) throw sys_error("cannot read its address (getsockname)");
  if (local->port || !local->is_any()) {
    e->set_src_addr(local->addr, local->addr_len());
    e->set_src_port(local->port);
    if (local->scope_id) e->set_scope_id(local->scope_id);
  }
  *e->mutable_opts() = read_socket_options(fd.file.get(), k.family, k.protocol);
}

// ---- restore -------------------------------------------------------------------

// "its UDP socket 0.0.0.0:5000", "its unbound UDP socket".
std::string socket_text(const img::InetSocketEntry& e) {
  if (!e.has_src_addr()) return "its unbound UDP socket";
  InetAddress a = entry_address(int(e.family()), e.src_addr(), e.src_port(), e.scope_id(), "local");
  return "its UDP socket " + a.text();
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_inet_sk()) throw Error("its file entry has no inet socket");
  const img::InetSocketEntry& e = entry.inet_sk();
  if (e.family() != AF_INET && e.family() != AF_INET6) throw Error(format("bad socket family %u", e.family()));
  bool tcp = e.type() == SOCK_STREAM && e.protocol() == IPPROTO_TCP;
  bool udp = e.type() == SOCK_DGRAM && e.protocol() == IPPROTO_UDP;
  if (!tcp && !udp) throw Error(format("bad socket type %u, protocol %u", e.type(), e.protocol()));
  if (tcp && e.state() != TCP_LISTEN && e.state() != TCP_CLOSE && e.state() != TCP_ESTABLISHED)
    throw Error(format("TCP state %s cannot be restored", diag::tcp_state_name(int(e.state())).c_str()));
  if (tcp && e.state() == TCP_ESTABLISHED) {
    // Without its state (dumped with --tcp-close) it can only come back closed.
    if (!e.has_src_addr() || !e.has_dst_addr()) throw Error("its established TCP connection has no addresses");
    if (e.has_tcp() && !opts.tcp_established && !opts.tcp_close)
      throw Error(format("established TCP connection %s: use --tcp-established (or --tcp-close)",
                         connection_text(e).c_str()));
  }
  if (udp && e.state() != TCP_ESTABLISHED && e.state() != TCP_CLOSE)
    throw Error(format("bad UDP state %u", e.state()));
  if (e.has_src_addr()) entry_address(int(e.family()), e.src_addr(), e.src_port(), e.scope_id(), "local");
  if (e.state() == TCP_ESTABLISHED)
    entry_address(int(e.family()), e.dst_addr(), e.dst_port(), e.dst_scope_id(), "peer");
  if (!e.queue().empty() && !e.has_src_addr()) throw Error("it has queued datagrams but no address");
  if (e.state() == TCP_LISTEN && !e.has_src_addr()) throw Error("it is listening but has no address");
  if (tcp && e.multicast_size()) throw Error("a TCP socket with multicast group memberships");
  check_multicast(e, socket_text(e));
}

// bind(); a port the kernel still keeps for a connection in TIME_WAIT
// refuses a socket without SO_REUSEADDR, which a restore right after the
// dump meets: SO_REUSEADDR is then set for the bind only.
void bind_to(int fd, const InetAddress& a, const img::SocketOptions& opts) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(a, ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return;
  int err = errno;
  if (err == EADDRINUSE && opts.reuseaddr() == 0) {
    int on = 1, off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    int r = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
    err = errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
    if (r == 0) return;
  }
  throw sys_error(format("cannot bind it to %s", a.text().c_str()), err);
}

// Where datagrams for the socket bound to `local` can be sent from here:
// its address, or the loopback one if it is bound to any.
InetAddress destination_of(const InetAddress& local, const InetAddress& sender) {
  InetAddress to = local;
  if (!to.is_any()) return to;
  memset(to.addr, 0, sizeof(to.addr));
  if (to.family == AF_INET) {
    to.addr[0] = 127, to.addr[3] = 1;
  } else if (IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(sender.addr))) {
    to.addr[10] = to.addr[11] = 0xff, to.addr[12] = 127, to.addr[15] = 1;  // ::ffff:127.0.0.1
  } else {
    to.addr[15] = 1;  // ::1
  }
  to.scope_id = 0;
  return to;
}

// A socket of the tree bound to `from` that is open already (finish()
// made it needed), -1 if none: the datagram is sent from it, since its port
// is taken now.
int needed_sender(const OpenRequest& req, const InetAddress& from) {
  for (uint32_t id : req.group.at(0)->needs()) {
    auto it = req.opened.find(id);
    if (it == req.opened.end()) continue;
    std::optional<InetAddress> a = local_address(it->second);
    if (a && a->family == from.family && a->port == from.port &&
        (a->is_any() || memcmp(a->addr, from.addr, a->addr_len()) == 0))
      return it->second;
  }
  return -1;
}

// A socket sending from `from`: bound to it if the kernel lets us (its
// owner, outside the tree, may still hold it; SO_REUSEADDR and
// IP_TRANSPARENT help), else from any port, which is logged.
UniqueFd sender_socket(const InetAddress& from, const char* what) {
  UniqueFd s(socket(from.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) throw sys_error("cannot make a socket to put its datagrams back");
  int on = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (from.family == AF_INET) setsockopt(s.get(), IPPROTO_IP, IP_TRANSPARENT, &on, sizeof(on));
  else setsockopt(s.get(), IPPROTO_IPV6, IPV6_TRANSPARENT, &on, sizeof(on));
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(from, ss);
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    LOG_WARN("%s: its queued datagrams from %s are put back from another port (%s)", what, from.text().c_str(),
             strerror(errno));
  return s;
}

// The datagrams the socket has queued now (peeking as the dump does).
int queued_datagrams(int fd) {
  int zero = 0, off = -1;
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
  int n = 0;
  char byte;
  while (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0) n++;
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
  return n;
}

double now_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// Sends each saved datagram again to the new socket, from its sender's
// address, oldest first, and waits (bounded) until all are queued.
void put_back_datagrams(int fd, const OpenRequest& req, const InetAddress& local, const char* what) {
  const img::InetSocketEntry& e = req.group.at(0)->inet_sk();
  if (e.queue().empty()) return;
  std::map<std::string, UniqueFd> senders;  // by sender address text
  for (const img::QueuedDatagram& d : e.queue()) {
    InetAddress from;
    from.family = int(e.family());
    if (d.has_addr()) from = entry_address(int(e.family()), d.addr(), d.port(), 0, "sender");
    int sender = needed_sender(req, from);
    if (sender < 0) {
      UniqueFd& s = senders[from.text()];
      if (!s) s = sender_socket(from, what);
      sender = s.get();
    }
    sockaddr_storage to;
    socklen_t len = to_sockaddr(destination_of(local, from), to);
    if (sendto(sender, d.data().data(), d.data().size(), 0, reinterpret_cast<sockaddr*>(&to), len) < 0)
      throw sys_error(format("cannot put back a queued datagram of %zu bytes from %s", d.data().size(),
                             from.text().c_str()));
  }
  // Loopback delivers at once in practice (unless softirqs are left to
  // ksoftirqd): wait, bounded, until they are all there.  Counting peeks
  // with an offset, which marks an empty datagram so that later walks with
  // an offset (the next dump's) skip it: with empty ones only the first is
  // waited for.
  bool has_empty = std::any_of(e.queue().begin(), e.queue().end(), [](const auto& d) { return d.data().empty(); });
  double deadline = now_seconds() + 2;
  if (has_empty) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) LOG_WARN("%s: its queued datagrams are not back", what);
    return;
  }
  int have = 0;
  while ((have = queued_datagrams(fd)) < e.queue_size() && now_seconds() < deadline) usleep(1000);
  if (have != e.queue_size())
    LOG_WARN("%s: %d of its %d queued datagrams are back", what, have, e.queue_size());
}

// Last, once its data is back: a peek offset would have moved with it.
void finish_socket(int s, const img::InetSocketEntry& e) {
  apply_peek_offset(s, e.opts());
  if ((e.flags() & O_NONBLOCK) && fcntl(s, F_SETFL, O_NONBLOCK) != 0) throw sys_error("cannot set O_NONBLOCK");
}

UniqueFd open_one(const OpenRequest& req) {
  const img::FileEntry& entry = *req.group.at(0);
  check(entry, req.target.opts);
  const img::InetSocketEntry& e = entry.inet_sk();
  std::string what = format("file %u (%s socket)", entry.id(), e.protocol() == IPPROTO_TCP ? "TCP" : "UDP");
  UniqueFd s(socket(int(e.family()), int(e.type()) | SOCK_CLOEXEC, int(e.protocol())));
  if (!s) throw sys_error("cannot make its socket");
  // The owner first: a SO_REUSEPORT group takes sockets of one owner only.
  if (e.has_uid() && e.uid() != geteuid() && fchown(s.get(), e.uid(), uid_t(-1)) != 0)
    throw sys_error(format("cannot give its socket to uid %u", e.uid()));
  if (e.protocol() == IPPROTO_TCP && e.state() == TCP_ESTABLISHED) {
    // TCP_MAXSEG of a connection reads its live MSS, not a user's
    // setting: soccr puts the MSS back through the repair options.
    img::SocketOptions opts = e.opts();
    opts.clear_tcp_maxseg();
    apply_socket_options(s.get(), opts, what.c_str());
    if (req.target.opts.tcp_close || !e.has_tcp()) restore_closed(s.get(), e);
    else restore_connection(s.get(), e);
    finish_socket(s.get(), e);
    return s;
  }
  apply_socket_options(s.get(), e.opts(), what.c_str());
  InetAddress local;
  if (e.has_src_addr()) {
    local = entry_address(int(e.family()), e.src_addr(), e.src_port(), e.scope_id(), "local");
    bind_to(s.get(), local, e.opts());
  }
  restore_multicast(s.get(), e, what);
  put_back_datagrams(s.get(), req, local, what.c_str());
  if (e.state() == TCP_LISTEN && listen(s.get(), int(e.backlog())) != 0)
    throw sys_error(format("cannot listen on %s", local.text().c_str()));
  if (e.protocol() == IPPROTO_UDP && e.state() == TCP_ESTABLISHED) {
    InetAddress peer = entry_address(int(e.family()), e.dst_addr(), e.dst_port(), e.dst_scope_id(), "peer");
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(peer, ss);
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      throw sys_error(format("cannot connect it to %s", peer.text().c_str()));
  }
  if (e.shutdown() & 3) {
    int how = (e.shutdown() & 3) == 3 ? SHUT_RDWR : (e.shutdown() & 1) ? SHUT_RD : SHUT_WR;
    if (shutdown(s.get(), how) != 0) throw sys_error("cannot shut it down as it was");
  }
  finish_socket(s.get(), e);
  return s;
}

// One file per group: each socket is its own.
std::vector<UniqueFd> open(const OpenRequest& req) {
  if (req.group.size() != 1) throw Error(format("a group of %zu inet sockets", req.group.size()));
  std::vector<UniqueFd> out;
  out.push_back(open_one(req));
  return out;
}

// ---- the whole tree ------------------------------------------------------------

// "udp 2 127.0.0.1 9000": a socket's local address, for finding senders.
std::string local_key(uint32_t family, const std::string& addr, uint32_t port) {
  return format("%u %u ", family, port) + addr;
}

// A datagram queued from a socket of the tree has to be put back from that
// socket, whose port is taken once it is restored: if it comes first (a
// lower id), the receiver needs it open.  (One that comes later is not
// bound yet when the datagram is put back: a socket of ckpt's own sends it
// from its address.  Only lower ids: needs never go round in a circle.)
void finish(DumpTreeContext& ctx) {
  std::map<std::string, uint32_t> by_local;
  size_t count = ctx.table.entries().size();
  for (uint32_t id = 1; id <= count; id++) {
    const img::FileEntry& f = ctx.table.entry(id);
    if (f.kind() != img::FILE_INET_SOCKET || f.inet_sk().protocol() != IPPROTO_UDP || !f.inet_sk().has_src_addr())
      continue;
    const img::InetSocketEntry& e = f.inet_sk();
    by_local.emplace(local_key(e.family(), e.src_addr(), e.src_port()), id);
  }
  for (uint32_t id = 1; id <= count; id++) {
    img::FileEntry& f = ctx.table.entry(id);
    if (f.kind() != img::FILE_INET_SOCKET) continue;
    for (const img::QueuedDatagram& d : f.inet_sk().queue()) {
      uint32_t family = f.inet_sk().family();
      auto it = by_local.find(local_key(family, d.addr(), d.port()));  // bound to that address
      if (it == by_local.end()) it = by_local.find(local_key(family, std::string(d.addr().size(), '\0'), d.port()));
      if (it == by_local.end() || it->second >= id) continue;
      if (std::find(f.needs().begin(), f.needs().end(), it->second) == f.needs().end()) f.add_needs(it->second);
    }
  }
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_inet_sk()) return "?";
  const img::InetSocketEntry& e = entry.inet_sk();
  const char* proto = e.protocol() == IPPROTO_TCP ? "TCP" : "UDP";
  const char* family = e.family() == AF_INET6 ? "v6" : "v4";
  std::string local = "unbound";
  if (e.src_addr().size() == 4 || e.src_addr().size() == 16) {
    InetAddress a;
    a.family = int(e.family());
    memcpy(a.addr, e.src_addr().data(), e.src_addr().size());
    a.port = uint16_t(e.src_port());
    local = a.text();
  }
  std::string more;
  if (e.state() == TCP_LISTEN) more = format(" listening (backlog %u)", e.backlog());
  if (e.protocol() == IPPROTO_UDP && e.state() == TCP_ESTABLISHED) more = format(" connected to port %u", e.dst_port());
  if (e.has_tcp())
    return format("TCP%s %s (%zu+%zu bytes to send, %zu to read) (flags 0%o)", family, connection_text(e).c_str(),
                  e.tcp().sent().size(), e.tcp().unsent().size(), e.tcp().received().size(), e.flags());
  if (e.queue_size()) more += format(", %d datagrams queued", e.queue_size());
  if (e.multicast_size()) more += format(", in %d multicast groups", e.multicast_size());
  return format("%s%s %s%s (flags 0%o)", proto, family, local.c_str(), more.c_str(), e.flags());
}

}  // namespace

const FileModule kInetSocketModule = {
    .kind = img::FILE_INET_SOCKET,
    .name = "inet socket",
    .open_per_fd = false,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = finish,
    .check = check,
    .open = open,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
