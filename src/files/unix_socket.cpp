// Unix sockets: stream, datagram and seqpacket; socket pairs, bound and
// listening sockets, connections and their queued data, fds in flight.
//
// Dump: the kernel's socket diagnostics (NETLINK_SOCK_DIAG, sock_diag.h)
// name each socket's peer, name, state, shutdown and listening queue; the
// receive queue is read without being consumed (MSG_PEEK from offset 0 with
// SO_PEEK_OFF, which is put back), on our duplicate of the description, so
// the process finds it intact (--leave-running).  finish() matches peers by
// inode and puts sockets connected to each other, and a listening socket
// with the connections made to it, into one group.
//
// Restore: a group is made by one open(), in this order: sockets and
// socket pairs; names (bind); listen; connections accepted (connect to the
// listener, then accept); connections still pending (connect only);
// options; the queued data, sent again by the peer (or by the datagram's
// sender) with its fds and credentials; connections of datagram sockets and
// to peers outside the tree; shutdown; filters, SO_PEEK_OFF, file flags;
// and deleted socket files unlinked again.
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/module.h"
#include "files/sock_diag.h"
#include "proc/read.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

namespace ckpt::files {

namespace {

// unix_diag states (the TCP values the kernel reuses).
constexpr uint32_t kConnected = 1;   // TCP_ESTABLISHED
constexpr uint32_t kListening = 10;  // TCP_LISTEN
constexpr uint32_t kRcvShutdown = 1;
constexpr uint32_t kSendShutdown = 2;

// ---- names ------------------------------------------------------------------

bool is_abstract(const std::string& name) { return !name.empty() && name[0] == '\0'; }

// A name as unix(7) gives it: a path up to its NUL, an abstract name whole.
std::string name_of(const sockaddr_un& a, socklen_t len) {
  size_t off = offsetof(sockaddr_un, sun_path);
  if (len <= off) return {};
  size_t n = std::min(size_t(len) - off, sizeof(a.sun_path));
  if (a.sun_path[0] != '\0') n = strnlen(a.sun_path, n);
  return std::string(a.sun_path, n);
}

// "/run/x.sock", "@name" (abstract), "unnamed": for messages.
std::string printable(const std::string& name) {
  if (name.empty()) return "unnamed";
  if (!is_abstract(name)) return name;
  std::string out = "@";
  for (char c : name.substr(1)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

struct Address {
  sockaddr_un addr{};
  socklen_t len = 0;
};

Address address_of(const std::string& name) {
  Address a;
  a.addr.sun_family = AF_UNIX;
  if (name.size() > sizeof(a.addr.sun_path) - (is_abstract(name) ? 0 : 1))
    throw Error(format("the socket name %s is too long", printable(name).c_str()));
  memcpy(a.addr.sun_path, name.data(), name.size());
  a.len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (is_abstract(name) ? 0 : 1));
  return a;
}

std::string sock_name(int fd, bool peer) {
  sockaddr_un a{};
  socklen_t len = sizeof(a);
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (r < 0) return {};
  return name_of(a, len);
}

// ---- socket diagnostics -----------------------------------------------------

struct Diag {
  uint32_t ino = 0;
  uint8_t type = 0;
  uint8_t state = 0;
  std::optional<uint32_t> peer;   // present for a connected socket; 0: pending connection
  std::vector<uint32_t> icons;    // listening: clients of the pending connections
  std::string name;
  std::optional<unix_diag_vfs> vfs;
  std::optional<unix_diag_rqlen> rqlen;
  uint8_t shutdown = 0;
};

constexpr uint32_t kShowAll = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
                              UDIAG_SHOW_RQLEN;

Diag parse_diag(const sockdiag::Record& r) {
  Diag d;
  unix_diag_msg m = r.head<unix_diag_msg>();
  d.ino = m.udiag_ino;
  d.type = m.udiag_type;
  d.state = m.udiag_state;
  d.peer = r.get<uint32_t>(UNIX_DIAG_PEER);
  if (auto it = r.attrs.find(UNIX_DIAG_ICONS); it != r.attrs.end())
    for (size_t i = 0; i + 4 <= it->second.size(); i += 4) {
      uint32_t ino;
      memcpy(&ino, it->second.data() + i, 4);
      d.icons.push_back(ino);
    }
  if (auto it = r.attrs.find(UNIX_DIAG_NAME); it != r.attrs.end()) {
    std::string raw(it->second.begin(), it->second.end());
    d.name = is_abstract(raw) ? raw : std::string(raw.c_str());
  }
  d.vfs = r.get<unix_diag_vfs>(UNIX_DIAG_VFS);
  d.rqlen = r.get<unix_diag_rqlen>(UNIX_DIAG_RQLEN);
  d.shutdown = r.get<uint8_t>(UNIX_DIAG_SHUTDOWN).value_or(0);
  return d;
}

unix_diag_req diag_request(uint32_t ino) {
  unix_diag_req req{};
  req.sdiag_family = AF_UNIX;
  req.udiag_states = ~0u;
  req.udiag_ino = ino;
  req.udiag_show = kShowAll;
  req.udiag_cookie[0] = req.udiag_cookie[1] = ~0u;  // INET_DIAG_NOCOOKIE: any socket of that inode
  return req;
}

// The unix socket of inode `ino` in our network namespace, if there is one.
std::optional<Diag> diag_one(uint32_t ino) {
  unix_diag_req req = diag_request(ino);
  auto records = sockdiag::query(&req, sizeof(req), false, sizeof(unix_diag_msg), UNIX_DIAG_MAX);
  if (records.empty()) return std::nullopt;
  return parse_diag(records.front());
}

// Every listening unix socket of our network namespace.
std::vector<Diag> diag_listeners() {
  unix_diag_req req = diag_request(0);
  req.udiag_states = 1u << kListening;
  std::vector<Diag> out;
  for (const auto& r : sockdiag::query(&req, sizeof(req), true, sizeof(unix_diag_msg), UNIX_DIAG_MAX))
    out.push_back(parse_diag(r));
  return out;
}

// The kernel's dev_t (MKDEV: 12 bits major, 20 bits minor), as stat() shows it.
dev_t user_dev(uint32_t kdev) { return makedev(kdev >> 20, kdev & 0xfffff); }

// ---- who holds which socket (pre-flight) ---------------------------------------

// The socket inodes the fds of `pids` hold.
std::set<uint32_t> socket_inodes_of(const std::set<pid_t>& pids) {
  std::set<uint32_t> out;
  for (pid_t pid : pids) {
    std::vector<int> fds;
    try {
      fds = proc::list_fds(pid);
    } catch (const Error&) {
      continue;  // gone (a zombie)
    }
    for (int fd : fds) {
      std::string link;
      try {
        link = proc::read_link(proc::path(pid, "fd/" + std::to_string(fd)));
      } catch (const Error&) {
        continue;
      }
      if (link.starts_with("socket:[")) out.insert(uint32_t(strtoul(link.c_str() + 8, nullptr, 10)));
    }
  }
  return out;
}

// The tree's sockets, computed once per tree (the pre-flight asks for each
// of its unix sockets; the tree is frozen meanwhile).
const std::set<uint32_t>& tree_sockets(const TreeTasks* tree) {
  static std::set<pid_t> cached_for;
  static std::set<uint32_t> cached;
  static bool valid = false;
  std::set<pid_t> pids = tree ? tree->processes : std::set<pid_t>{};
  if (!valid || pids != cached_for) {
    cached = socket_inodes_of(pids);
    cached_for = pids;
    valid = true;
  }
  return cached;
}

// A process outside the tree with an fd on socket `ino`, or 0.
pid_t holder_outside(uint32_t ino, const TreeTasks* tree) {
  std::string want = format("socket:[%u]", ino);
  DIR* d = opendir("/proc");
  if (!d) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0 || pid == getpid() || (tree && tree->processes.count(pid_t(pid)))) continue;
    std::vector<int> fds;
    try {
      fds = proc::list_fds(pid_t(pid));
    } catch (const Error&) {
      continue;
    }
    for (int fd : fds) {
      char path[64], link[64];
      snprintf(path, sizeof(path), "/proc/%ld/fd/%d", pid, fd);
      ssize_t n = readlink(path, link, sizeof(link) - 1);
      if (n > 0 && std::string(link, size_t(n)) == want) {
        found = pid_t(pid);
        break;
      }
    }
    if (found) break;
  }
  closedir(d);
  return found;
}

// ---- claims and blocker -----------------------------------------------------

bool claims(const OpenFd& fd) {
  if (!S_ISSOCK(fd.st.st_mode)) return false;
  if (fd.file) {
    int domain = 0;
    socklen_t len = sizeof(domain);
    return getsockopt(fd.file.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
  }
  try {
    return diag_one(uint32_t(fd.st.st_ino)).has_value();
  } catch (const Error&) {
    return false;
  }
}

std::string outside_peer_reason(const std::string& peer_name, uint32_t peer_ino, bool ext) {
  if (!ext)
    return format("unix socket connected to a peer outside the tree (%s, inode %u): use --ext-unix-sk",
                  printable(peer_name).c_str(), peer_ino);
  if (peer_name.empty())
    return format("unix socket connected to an unnamed peer outside the tree (inode %u): it cannot be connected "
                  "again, even with --ext-unix-sk",
                  peer_ino);
  return "";
}

std::string peer_blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  std::optional<Diag> d = diag_one(uint32_t(fd.st.st_ino));
  if (!d || !d->peer) return "";
  if (*d->peer != 0) {
    if (tree_sockets(opts.tree).count(*d->peer)) return "";
    // Held by no process: in flight in some queue, perhaps one of the tree
    // (finish() knows).
    if (!holder_outside(*d->peer, opts.tree)) return "";
    std::optional<Diag> peer = diag_one(*d->peer);
    return outside_peer_reason(peer ? peer->name : "", *d->peer, opts.ext_unix_sk);
  }
  // A connection not accepted yet: its listener holds the other end.
  for (const Diag& l : diag_listeners()) {
    if (std::find(l.icons.begin(), l.icons.end(), d->ino) == l.icons.end()) continue;
    if (tree_sockets(opts.tree).count(l.ino) || opts.ext_unix_sk) return "";
    return format("unix socket with a connection not yet accepted by a listening socket outside the tree (%s, "
                  "inode %u): use --ext-unix-sk",
                  printable(l.name).c_str(), l.ino);
  }
  return "";
}

std::string blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  try {
    return peer_blocker(fd, opts);
  } catch (const Error& e) {
    return std::string("its unix socket diagnostics cannot be read: ") + e.what();
  }
}

// ---- dump ---------------------------------------------------------------------

template <class T>
T get_opt(int fd, int level, int name, const char* what) {
  T v{};
  socklen_t len = sizeof(v);
  if (getsockopt(fd, level, name, &v, &len) < 0) throw sys_error(format("getsockopt(%s)", what));
  return v;
}

uint64_t timeo_us(int fd, int name, const char* what) {
  timeval tv = get_opt<timeval>(fd, SOL_SOCKET, name, what);
  return uint64_t(tv.tv_sec) * 1000000 + uint64_t(tv.tv_usec);
}

void dump_options(int fd, img::UnixSocketEntry& u) {
  u.set_sndbuf(uint32_t(get_opt<int>(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF")));
  u.set_rcvbuf(uint32_t(get_opt<int>(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF")));
  u.set_passcred(get_opt<int>(fd, SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED") != 0);
  u.set_passsec(get_opt<int>(fd, SOL_SOCKET, SO_PASSSEC, "SO_PASSSEC") != 0);
  int pidfd = 0;
  socklen_t len = sizeof(pidfd);
  if (getsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &pidfd, &len) == 0) u.set_passpidfd(pidfd != 0);
  u.set_peek_off(get_opt<int>(fd, SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF"));
  u.set_rcvtimeo_us(timeo_us(fd, SO_RCVTIMEO, "SO_RCVTIMEO"));
  u.set_sndtimeo_us(timeo_us(fd, SO_SNDTIMEO, "SO_SNDTIMEO"));
  u.set_rcvlowat(get_opt<int>(fd, SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT"));
  u.set_priority(uint32_t(get_opt<int>(fd, SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY")));
  u.set_mark(uint32_t(get_opt<int>(fd, SOL_SOCKET, SO_MARK, "SO_MARK")));
}

// SO_GET_FILTER: with no buffer it gives the number of instructions.
void dump_filter(int fd, img::UnixSocketEntry& u) {
  socklen_t count = 0;
  if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &count) < 0)
    throw sys_error("its socket filter cannot be read (an eBPF program attached with SO_ATTACH_BPF is not "
                    "supported yet)");
  if (count == 0) return;
  std::vector<sock_filter> prog(count);
  if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, prog.data(), &count) < 0)
    throw sys_error("cannot read its socket filter");
  for (socklen_t i = 0; i < count; i++) {
    const sock_filter& f = prog[i];
    u.add_filter(uint64_t(f.code) << 48 | uint64_t(f.jt) << 40 | uint64_t(f.jf) << 32 | f.k);
  }
  u.set_filter_locked(get_opt<int>(fd, SOL_SOCKET, SO_LOCK_FILTER, "SO_LOCK_FILTER") != 0);
}

// A socket file renamed within its directory since it was bound: found
// there by its inode.  One moved further is not looked for (that would be
// a walk of the file systems) and comes back as deleted.
std::optional<std::string> find_moved_file(const std::string& path, uint64_t ino, dev_t dev) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) return std::nullopt;
  constexpr int kMostEntries = 100000;  // a spool directory: give up rather than stall the frozen tree
  int seen = 0;
  while (dirent* e = readdir(d.get())) {
    if (++seen > kMostEntries) return std::nullopt;
    if (e->d_ino != ino) continue;
    struct stat st;
    if (fstatat(dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino && st.st_dev == dev &&
        S_ISSOCK(st.st_mode))
      return (dir == "/" ? "" : dir) + "/" + e->d_name;
  }
  return std::nullopt;
}

void keep_file_attributes(const struct stat& st, img::UnixSocketEntry& u) {
  u.set_file_mode(st.st_mode & 07777);
  u.set_file_uid(st.st_uid);
  u.set_file_gid(st.st_gid);
}

// The file a path name is bound to: mode and owner; where it was renamed
// to within its directory; or deleted if the path no longer leads to it.
void dump_bound_file(const Diag& d, pid_t proc_id, img::UnixSocketEntry& u) {
  const std::string& name = u.name();
  std::string path = name;
  if (name[0] != '/') {
    std::string cwd = proc::read_link(proc::path(proc_id, "cwd"));
    u.set_bind_dir(cwd);
    path = cwd + "/" + name;
  }
  if (!d.vfs) throw Error(format("the kernel gives no inode for its socket file %s", name.c_str()));
  u.set_vfs_ino(d.vfs->udiag_vfs_ino);
  u.set_vfs_dev(user_dev(d.vfs->udiag_vfs_dev));
  struct stat st;
  dev_t dev = user_dev(d.vfs->udiag_vfs_dev);
  if (lstat(path.c_str(), &st) == 0 && st.st_ino == d.vfs->udiag_vfs_ino && st.st_dev == dev) {
    keep_file_attributes(st, u);
    return;
  }
  if (std::optional<std::string> moved = find_moved_file(path, d.vfs->udiag_vfs_ino, dev)) {
    if (lstat(moved->c_str(), &st) == 0) {
      keep_file_attributes(st, u);
      u.set_moved_to(*moved);
      LOG_INFO("unix socket %u: its socket file %s was renamed to %s since it was bound", d.ino, path.c_str(),
               moved->c_str());
      return;
    }
  }
  u.set_file_deleted(true);
  LOG_WARN("unix socket %u: its socket file %s was deleted since it was bound (or moved out of its directory): "
           "restore binds the name and unlinks it again (a file moved elsewhere is not made again there)",
           d.ino, path.c_str());
}

// Restores SO_PEEK_OFF when the queue has been read.
class PeekOffset {
 public:
  explicit PeekOffset(int fd) : fd_(fd), saved_(get_opt<int>(fd, SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF")) {
    int zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) throw sys_error("setsockopt(SO_PEEK_OFF)");
  }
  ~PeekOffset() { setsockopt(fd_, SOL_SOCKET, SO_PEEK_OFF, &saved_, sizeof(saved_)); }
  PeekOffset(const PeekOffset&) = delete;
  PeekOffset& operator=(const PeekOffset&) = delete;

 private:
  int fd_;
  int saved_;
};

// What one peek brought: the fds it installed in our process are owned here.
struct Peeked {
  ssize_t len = -1;
  std::vector<UniqueFd> fds;
  std::optional<ucred> creds;
  std::string sender;
  bool ctrunc = false;
};

Peeked peek_once(int fd, void* buf, size_t size, int flags) {
  Peeked p;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int)) +
                                 256];
  sockaddr_un from{};
  iovec iov{buf, size};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  do p.len = recvmsg(fd, &msg, flags | MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (p.len < 0 && errno == EINTR);
  if (p.len < 0) return p;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    size_t bytes = c->cmsg_len - CMSG_LEN(0);
    if (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD) {
      for (size_t i = 0; i < bytes / sizeof(int); i++) {
        int got;
        memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        UniqueFd owned(got);
        if (c->cmsg_type == SCM_RIGHTS) p.fds.push_back(std::move(owned));  // a pidfd is only closed
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS && bytes >= sizeof(ucred)) {
      ucred cr;
      memcpy(&cr, CMSG_DATA(c), sizeof(cr));
      p.creds = cr;
    }
  }
  p.ctrunc = msg.msg_flags & MSG_CTRUNC;
  p.sender = name_of(from, msg.msg_namelen);
  return p;
}

// Adds the fds one peek found to the table; returns their ids.
std::vector<uint32_t> add_in_flight(std::vector<UniqueFd>& fds, DumpFdContext& ctx, img::FileEntry& entry) {
  std::vector<uint32_t> ids;
  for (UniqueFd& f : fds) {
    int n = f.get();
    OpenFd ofd = describe_fd(getpid(), n, std::move(f));
    uint32_t id = ctx.table.add_description(ofd, ctx);
    ids.push_back(id);
    auto& needs = *entry.mutable_needs();
    if (std::find(needs.begin(), needs.end(), id) == needs.end()) entry.add_needs(id);
  }
  return ids;
}

img::UnixMessage& add_message(img::UnixSocketEntry& u, const std::string& data, const Peeked& p,
                              const std::vector<uint32_t>& fd_ids) {
  img::UnixMessage* m = u.add_queue();
  m->set_data(data);
  for (uint32_t id : fd_ids) m->add_fds(id);
  if (p.creds && u.passcred()) {
    img::UnixCreds* c = m->mutable_creds();
    c->set_pid(uint32_t(p.creds->pid));
    c->set_uid(p.creds->uid);
    c->set_gid(p.creds->gid);
  }
  return *m;
}

// A datagram or seqpacket queue, one record per message: the length first
// (MSG_TRUNC with no room, which does not move the offset), then the whole.
void peek_records(int fd, const Diag& d, DumpFdContext& ctx, img::FileEntry& entry) {
  img::UnixSocketEntry& u = *entry.mutable_unix_sk();
  uint64_t seen = 0;
  uint64_t total = d.rqlen ? d.rqlen->udiag_rqueue : 0;  // seqpacket: every byte queued
  for (;;) {
    char none;
    Peeked probe = peek_once(fd, &none, 0, MSG_TRUNC);
    if (probe.len < 0) {
      if (errno == EAGAIN) return;
      throw sys_error("cannot read its receive queue");
    }
    // A non-blocking seqpacket socket whose receive side is shut down reads
    // 0 at its end (a zero-length record there looks the same).
    if (probe.len == 0 && d.type == SOCK_SEQPACKET && (d.shutdown & kRcvShutdown) && seen >= total) return;
    std::string data;
    Peeked full;
    if (probe.len == 0) {
      // The probe consumed the peek of a zero-length message: it is this one.
      full = std::move(probe);
      full.len = 0;
    } else {
      data.resize(size_t(probe.len));
      full = peek_once(fd, data.data(), data.size(), 0);
      if (full.len != probe.len) throw sys_error("its receive queue changed while it was read");
    }
    if (full.ctrunc) throw Error("a message of its receive queue carries more fds than ckpt can read");
    std::vector<uint32_t> ids = add_in_flight(full.fds, ctx, entry);
    img::UnixMessage& m = add_message(u, data, full, ids);
    if (!full.sender.empty()) m.set_sender(full.sender);
    seen += uint64_t(full.len);
  }
}

// A stream queue: segments as the kernel hands them out.  A peek stops
// after a segment with fds and at other credentials, and glues the
// segments before one with fds to it (where they began cannot be seen):
// the fds come back with the first byte of what the peek gave.  Segments
// with neither are merged.  The buffer holds more than any one segment.
void peek_stream(int fd, DumpFdContext& ctx, img::FileEntry& entry) {
  img::UnixSocketEntry& u = *entry.mutable_unix_sk();
  std::string buf(512 * 1024, '\0');
  bool mergeable = false;
  for (;;) {
    Peeked p = peek_once(fd, buf.data(), buf.size(), 0);
    if (p.len < 0) {
      if (errno == EAGAIN) return;
      throw sys_error("cannot read its receive queue");
    }
    if (p.len == 0) return;  // end of stream
    if (p.ctrunc) throw Error("a message of its receive queue carries more fds than ckpt can read");
    std::string data(buf.data(), size_t(p.len));
    bool plain = p.fds.empty() && !(p.creds && u.passcred());
    if (plain && mergeable) {
      u.mutable_queue(u.queue_size() - 1)->mutable_data()->append(data);
      continue;
    }
    if (!p.fds.empty() && size_t(p.len) == buf.size())
      throw Error("a segment of its receive queue with fds is too long to read");
    std::vector<uint32_t> ids = add_in_flight(p.fds, ctx, entry);
    add_message(u, data, p, ids);
    mergeable = plain;
  }
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  int s = fd.file.get();
  std::optional<Diag> found = diag_one(uint32_t(fd.st.st_ino));
  if (!found) throw Error(format("unix socket %lu is not in ckpt's network namespace", (unsigned long)fd.st.st_ino));
  const Diag& d = *found;
  img::UnixSocketEntry& u = *entry.mutable_unix_sk();
  int type = get_opt<int>(s, SOL_SOCKET, SO_TYPE, "SO_TYPE");
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET)
    throw Error(format("unix socket %u is of type %d, not stream, datagram or seqpacket", d.ino, type));
  u.set_type(uint32_t(type));
  u.set_state(d.state);
  u.set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  u.set_ino(d.ino);
  if (d.peer) u.set_peer_ino(*d.peer);
  for (uint32_t ino : d.icons) u.add_icons(ino);
  std::string name = sock_name(s, false);
  if (!name.empty()) {
    u.set_name(name);
    if (!is_abstract(name)) dump_bound_file(d, ctx.proc_id, u);
  }
  std::string peer_name = sock_name(s, true);
  if (!peer_name.empty()) u.set_peer_name(peer_name);
  if (d.shutdown) u.set_shutdown(d.shutdown);
  dump_options(s, u);
  dump_filter(s, u);
  if (d.state == kListening) {
    u.set_backlog(d.rqlen ? d.rqlen->udiag_wqueue : 0);
    return;
  }
  if (d.peer && *d.peer == 0) {
    // Its peer has no inode: an embryo in a listener's queue (a connection
    // not accepted yet), or a socket closed since.
    for (const Diag& l : diag_listeners())
      if (std::find(l.icons.begin(), l.icons.end(), d.ino) != l.icons.end()) u.set_listener_ino(l.ino);
    if (!u.has_listener_ino()) u.set_peer_gone(true);
    // Its data sits in the embryo, which only accept() reads.
    int outq = 0;
    if (u.has_listener_ino() && ioctl(s, SIOCOUTQ, &outq) == 0 && outq > 0)
      throw Error(format("unix socket %u has sent data on a connection to %s that is not accepted yet: not "
                         "supported yet",
                         d.ino, printable(peer_name).c_str()));
  }
  // An unconnected stream or seqpacket socket has no queue (and refuses
  // to be read: EINVAL, ENOTCONN).
  if (type != SOCK_DGRAM && d.state != kConnected) return;
  PeekOffset from_start(s);
  if (type == SOCK_STREAM) peek_stream(s, ctx, entry);
  else peek_records(s, d, ctx, entry);
}

// ---- finish: peers, listeners, groups -------------------------------------------

struct TreeIndex {
  std::vector<uint32_t> ids;                     // every unix socket of the table
  std::map<uint32_t, uint32_t> by_ino;           // inode -> id
};

std::string where(const DumpTreeContext& ctx, uint32_t id) {
  const img::UnixSocketEntry& u = ctx.table.entry(id).unix_sk();
  if (!ctx.table.users(id).empty()) return ctx.table.first_user(id);
  return format("unix socket %u in flight", u.ino());
}

[[noreturn]] void refuse(const DumpTreeContext& ctx, uint32_t id, const std::string& why) {
  throw Error(format("cannot dump %s: %s", where(ctx, id).c_str(), why.c_str()));
}

// The listening socket of the tree a connected socket was accepted from:
// the one with its name (and, for a path, the same socket file).
uint32_t listener_named(const DumpTreeContext& ctx, const TreeIndex& idx, const img::UnixSocketEntry& u) {
  if (!u.has_name()) return 0;
  for (uint32_t id : idx.ids) {
    const img::UnixSocketEntry& l = ctx.table.entry(id).unix_sk();
    if (l.state() != kListening || l.name() != u.name() || l.type() != u.type()) continue;
    if (!is_abstract(u.name()) && (l.vfs_ino() != u.vfs_ino() || l.vfs_dev() != u.vfs_dev())) continue;
    return id;
  }
  return 0;
}

// Sets how each socket is connected at restore; returns the links that tie
// sockets into one group.
std::vector<std::pair<uint32_t, uint32_t>> resolve_peers(DumpTreeContext& ctx, const TreeIndex& idx) {
  std::vector<std::pair<uint32_t, uint32_t>> links;
  bool ext = ctx.opts.ext_unix_sk;
  for (uint32_t id : idx.ids) {
    img::UnixSocketEntry& u = *ctx.table.entry(id).mutable_unix_sk();
    if (u.state() == kListening || !u.has_peer_ino()) continue;
    if (u.peer_gone()) continue;
    if (u.peer_ino() == 0) {
      // A client whose connection waits in a listener's queue.
      auto l = idx.by_ino.find(u.listener_ino());
      if (l != idx.by_ino.end()) {
        u.set_listener(l->second);
        u.set_pending(true);
        links.emplace_back(id, l->second);
        continue;
      }
      if (!ext)
        refuse(ctx, id, format("unix socket with a connection not yet accepted by a listening socket outside the "
                               "tree (%s, inode %u): use --ext-unix-sk",
                               printable(u.peer_name()).c_str(), u.listener_ino()));
      u.set_external_peer(true);
      continue;
    }
    auto it = idx.by_ino.find(u.peer_ino());
    if (it == idx.by_ino.end()) {
      std::string why = outside_peer_reason(u.peer_name(), u.peer_ino(), ext);
      if (!why.empty()) refuse(ctx, id, why);
      u.set_external_peer(true);
      continue;
    }
    uint32_t p = it->second;
    const img::UnixSocketEntry& pu = ctx.table.entry(p).unix_sk();
    bool mutual = pu.has_peer_ino() && pu.peer_ino() == u.ino();
    links.emplace_back(id, p);
    if (u.type() != SOCK_DGRAM) {
      // A connection: both ends are mutual peers; the accepted end has the
      // listener's name.
      if (uint32_t l = listener_named(ctx, idx, u)) {
        u.set_accepted(true);
        u.set_listener(l);
        u.set_peer(p);
        links.emplace_back(id, l);
      } else if (listener_named(ctx, idx, pu)) {
        u.set_peer(p);        // the client: it connects to the listener of its peer
      } else if (!u.has_name() && !pu.has_name()) {
        u.set_pair(p);
      } else if (u.has_name() && !pu.has_name()) {
        u.set_by_name(true);  // its listener is gone: remade through one on its name
        u.set_peer(p);
      } else if (!u.has_name()) {
        u.set_peer(p);        // the client end of a by_name connection
      } else {
        LOG_WARN("%s: unix connection between %s and %s, both named and with no listener in the tree, is made "
                 "again as a socket pair bound to those names",
                 where(ctx, id).c_str(), printable(u.name()).c_str(), printable(pu.name()).c_str());
        u.set_pair(p);
      }
      continue;
    }
    if (mutual && (!u.has_name() || !pu.has_name())) {
      u.set_pair(p);
    } else if (pu.has_name()) {
      u.set_peer(p);
    } else {
      refuse(ctx, id, format("unix datagram socket connected to an unnamed socket (inode %u) that is connected "
                             "elsewhere: not supported yet",
                             pu.ino()));
    }
  }
  return links;
}

// Datagrams whose sender is a socket of the tree tie it to the receiver (it
// sends them again); a sender outside loses its name.
void link_senders(DumpTreeContext& ctx, const TreeIndex& idx, std::vector<std::pair<uint32_t, uint32_t>>& links) {
  for (uint32_t id : idx.ids) {
    const img::UnixSocketEntry& u = ctx.table.entry(id).unix_sk();
    std::set<std::string> lost;
    for (const img::UnixMessage& m : u.queue()) {
      if (!m.has_sender()) continue;
      uint32_t from = 0;
      for (uint32_t s : idx.ids) {
        const img::UnixSocketEntry& su = ctx.table.entry(s).unix_sk();
        if (su.name() == m.sender() && su.state() != kListening && !su.accepted()) from = s;
      }
      if (from) links.emplace_back(id, from);
      else lost.insert(printable(m.sender()));
    }
    for (const std::string& name : lost)
      LOG_WARN("%s: datagrams queued from %s, outside the tree, are sent again from an unnamed socket (their "
               "sender's name is lost)",
               where(ctx, id).c_str(), name.c_str());
    if (u.external_peer() && u.type() != SOCK_DGRAM && u.queue_size() > 0)
      refuse(ctx, id, format("its %d queued messages came from its peer outside the tree (%s), which a new "
                             "connection cannot send again: not supported yet",
                             u.queue_size(), printable(u.peer_name()).c_str()));
  }
}

void make_groups(DumpTreeContext& ctx, const TreeIndex& idx, const std::vector<std::pair<uint32_t, uint32_t>>& links) {
  std::map<uint32_t, uint32_t> parent;
  for (uint32_t id : idx.ids) parent[id] = id;
  std::function<uint32_t(uint32_t)> root = [&](uint32_t x) { return parent[x] == x ? x : parent[x] = root(parent[x]); };
  for (auto [a, b] : links) {
    uint32_t ra = root(a), rb = root(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::map<uint32_t, size_t> size;
  for (uint32_t id : idx.ids) size[root(id)]++;
  for (uint32_t id : idx.ids) {
    uint32_t g = root(id);
    if (size[g] > 1) ctx.table.entry(id).set_group(g);
  }
  // A socket's fds in flight are opened before its group, except those of
  // the group itself (a pair's end sent to the other end): the group sends
  // its own sockets, so they are no needs (which would be a cycle).
  for (uint32_t id : idx.ids) {
    img::FileEntry& e = ctx.table.entry(id);
    uint32_t g = e.has_group() ? e.group() : id;
    std::vector<uint32_t> kept;
    for (uint32_t need : e.needs()) {
      const img::FileEntry& n = ctx.table.entry(need);
      uint32_t ng = n.has_group() ? n.group() : need;
      if (n.kind() != img::FILE_UNIX_SOCKET || ng != g) kept.push_back(need);
    }
    e.clear_needs();
    for (uint32_t need : kept) e.add_needs(need);
  }
}

// A listener's pending connections from clients outside the tree cannot be
// made again: refused, or with --ext-unix-sk dropped (those clients see
// their connection reset).
void check_outside_clients(DumpTreeContext& ctx, const TreeIndex& idx) {
  for (uint32_t id : idx.ids) {
    const img::UnixSocketEntry& u = ctx.table.entry(id).unix_sk();
    int outside = 0;
    for (uint32_t ino : u.icons()) outside += !idx.by_ino.count(ino);
    if (!outside) continue;
    if (!ctx.opts.ext_unix_sk)
      refuse(ctx, id, format("listening unix socket %s has %d connections from outside the tree not accepted yet: "
                             "use --ext-unix-sk to drop them",
                             printable(u.name()).c_str(), outside));
    LOG_WARN("%s: %d connections from outside the tree to %s, not accepted yet, are dropped (--ext-unix-sk)",
             where(ctx, id).c_str(), outside, printable(u.name()).c_str());
  }
}

// Sockets in flight in each other's queues across groups: each group would
// have to be opened before the other.
void refuse_cycles(DumpTreeContext& ctx, const TreeIndex& idx) {
  auto group_of = [&](uint32_t id) {
    const img::FileEntry& e = ctx.table.entry(id);
    return e.has_group() ? e.group() : id;
  };
  std::map<uint32_t, std::set<uint32_t>> edges;
  for (uint32_t id : idx.ids)
    for (uint32_t need : ctx.table.entry(id).needs())
      if (ctx.table.entry(need).kind() == img::FILE_UNIX_SOCKET) edges[group_of(id)].insert(group_of(need));
  std::map<uint32_t, int> state;  // 1: on the path, 2: done
  std::function<void(uint32_t)> visit = [&](uint32_t g) {
    state[g] = 1;
    for (uint32_t n : edges[g]) {
      if (state[n] == 1)
        refuse(ctx, g, format("unix sockets are in flight in each other's queues (files %u and %u): not supported "
                              "yet",
                              g, n));
      if (state[n] == 0) visit(n);
    }
    state[g] = 2;
  };
  for (auto& [g, _] : edges)
    if (state[g] == 0) visit(g);
}

void finish(DumpTreeContext& ctx) {
  TreeIndex idx;
  for (const img::FileEntry& e : ctx.table.entries())
    if (e.kind() == img::FILE_UNIX_SOCKET && e.has_unix_sk()) {
      idx.ids.push_back(e.id());
      idx.by_ino[e.unix_sk().ino()] = e.id();
    }
  if (idx.ids.empty()) return;
  check_outside_clients(ctx, idx);
  auto links = resolve_peers(ctx, idx);
  link_senders(ctx, idx, links);
  make_groups(ctx, idx, links);
  refuse_cycles(ctx, idx);
}

// ---- restore: checks ------------------------------------------------------------

bool binds_own_name(const img::UnixSocketEntry& u) { return u.has_name() && !u.accepted() && !u.by_name(); }

std::string path_of(const img::UnixSocketEntry& u) {
  return u.bind_dir().empty() ? u.name() : u.bind_dir() + "/" + u.name();
}

// A socket file nobody listens on any more (the dumped process's, say);
// `path` is looked up under `root`.
bool is_stale_socket(const std::string& path, int type, const FsRoot& root) {
  UniqueFd probe(socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!probe || path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  Address a = address_of(path);
  FsRoot::Entered inside = root.enter();
  return connect(probe.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len) < 0 && errno == ECONNREFUSED;
}

// A socket name for messages: a path as looked up (under --root).
std::string shown(const std::string& name, const FsRoot& root) {
  return printable(is_abstract(name) ? name : root.host(name));
}

void check_name_free(const img::UnixSocketEntry& u, const FsRoot& root) {
  if (is_abstract(u.name())) {
    UniqueFd probe(socket(AF_UNIX, int(u.type()) | SOCK_CLOEXEC, 0));
    Address a = address_of(u.name());
    if (probe && bind(probe.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len) < 0 && errno == EADDRINUSE)
      throw Error(format("its abstract name %s is taken by another socket", printable(u.name()).c_str()));
    return;
  }
  std::string path = path_of(u);
  std::string file = root.host(path);  // where it is looked up
  struct stat st;
  if (u.has_moved_to()) {
    // Its file comes back where it was moved to, from its bound path.
    if (lstat(file.c_str(), &st) == 0)
      throw Error(format("its socket file %s was renamed to %s before the dump, but the path %s exists now",
                         file.c_str(), root.host(u.moved_to()).c_str(), file.c_str()));
    path = u.moved_to();
    file = root.host(path);
  }
  if (lstat(file.c_str(), &st) < 0) return;
  if (u.file_deleted())
    throw Error(format("its socket file %s was deleted before the dump, but the path exists now", file.c_str()));
  if (!S_ISSOCK(st.st_mode)) throw Error(format("its socket path %s exists and is not a socket", file.c_str()));
  if (!is_stale_socket(path, int(u.type()), root))
    throw Error(format("its socket path %s is in use by a live socket", file.c_str()));
}

const img::UnixSocketEntry& unix_of(const img::FileEntry& entry) {
  if (!entry.has_unix_sk()) throw Error("its file entry has no unix socket");
  const img::UnixSocketEntry& u = entry.unix_sk();
  if (u.type() != SOCK_STREAM && u.type() != SOCK_DGRAM && u.type() != SOCK_SEQPACKET)
    throw Error(format("its unix socket has type %u", u.type()));
  return u;
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  const img::UnixSocketEntry& u = unix_of(entry);
  if (u.external_peer() && !opts.ext_unix_sk)
    throw Error(format("its unix socket was connected to %s, outside the tree: restore with --ext-unix-sk",
                       printable(u.peer_name()).c_str()));
  if (binds_own_name(u)) check_name_free(u, opts.root);
}

// ---- restore: making the group --------------------------------------------------------

struct Sock {
  const img::FileEntry* entry;
  const img::UnixSocketEntry* u;
  UniqueFd fd;
};

class GroupMaker {
 public:
  explicit GroupMaker(const OpenRequest& req) : req_(req) {
    for (const img::FileEntry* e : req.group) {
      index_[e->id()] = socks_.size();
      socks_.push_back({e, &unix_of(*e), {}});
    }
  }

  // Inside --root's directory throughout: every name is looked up there
  // and stays the image's (bind keeps the name it is given: getsockname
  // and the peers see it), and no name grows past sun_path's 108 bytes.
  std::vector<UniqueFd> make() {
    FsRoot::Entered inside = root().enter();
    create();
    bind_names();
    listen_all();
    accept_connections();
    connect_pending();
    for (Sock& s : socks_) set_options(s);
    for (Sock& s : socks_) put_back_queue(s);
    ghost_.clear();  // closed peers close: their sockets see the end
    connect_peers();
    for (Sock& s : socks_) shut_down(s);
    for (Sock& s : socks_) finish_socket(s);
    for (Sock& s : socks_) put_files_back(s);
    inside.leave();
    std::vector<UniqueFd> out;
    for (Sock& s : socks_) out.push_back(std::move(s.fd));
    return out;
  }

 private:
  const FsRoot& root() const { return req_.target.opts.root; }
  Sock* member(uint32_t id) {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &socks_[it->second];
  }
  Sock& need(uint32_t id, const Sock& of) {
    Sock* s = member(id);
    if (!s) throw Error(format("unix socket %u is tied to file %u, which is not in its group", of.u->ino(), id));
    return *s;
  }
  static int type_of(const Sock& s) { return int(s.u->type()) | SOCK_CLOEXEC; }

  void create() {
    for (Sock& s : socks_) {
      if (s.fd || s.u->accepted() || s.u->by_name()) continue;
      if (s.u->peer_gone()) {
        // The other end sends the queue, then goes (put_back_queue).
        int sv[2];
        if (socketpair(AF_UNIX, type_of(s), 0, sv) < 0) throw sys_error("socketpair");
        s.fd.reset(sv[0]);
        ghost_[s.entry->id()].reset(sv[1]);
        continue;
      }
      if (s.u->has_pair()) {
        Sock& other = need(s.u->pair(), s);
        int sv[2];
        if (socketpair(AF_UNIX, type_of(s), 0, sv) < 0) throw sys_error("socketpair");
        s.fd.reset(sv[0]);
        other.fd.reset(sv[1]);
        continue;
      }
      s.fd.reset(socket(AF_UNIX, type_of(s), 0));
      if (!s.fd) throw sys_error("cannot make a unix socket");
    }
  }

  // bind(2) of a path relative to the directory it was bound in.
  void bind_to(int fd, const img::UnixSocketEntry& u) const {
    UniqueFd cwd;
    if (!u.bind_dir().empty()) {
      cwd.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!cwd || chdir(u.bind_dir().c_str()) < 0) throw sys_error("cannot enter " + root().host(u.bind_dir()));
    }
    Address a = address_of(u.name());
    int r = bind(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len);
    int err = errno;
    if (cwd && fchdir(cwd.get()) < 0) throw sys_error("cannot return to ckpt's directory");
    if (r < 0) throw sys_error(format("cannot bind to %s", shown(u.name(), root()).c_str()), err);
  }

  void bind_name(Sock& s) const {
    const img::UnixSocketEntry& u = *s.u;
    std::string path = path_of(u);
    if (!is_abstract(u.name())) {
      struct stat st;
      // check() found it stale: the dumped socket's own file, say.
      const std::string& file = u.has_moved_to() ? u.moved_to() : path;
      if (lstat(file.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && !u.file_deleted() &&
          is_stale_socket(file, int(u.type()), FsRoot()))  // (inside the root already)
        unlink(file.c_str());
    }
    bind_to(s.fd.get(), u);
    if (is_abstract(u.name()) || !u.has_file_mode()) return;
    if (chmod(path.c_str(), u.file_mode()) < 0) throw sys_error("cannot set the mode of " + root().host(path));
    if (lchown(path.c_str(), u.file_uid(), u.file_gid()) < 0)
      throw sys_error("cannot set the owner of " + root().host(path));
  }

  // Last, once nothing connects or sends by name any more: a file deleted
  // since the bind goes again, one renamed goes to its new path (the
  // socket's name stays the bound path, as it did).
  void put_files_back(const Sock& s) const {
    const img::UnixSocketEntry& u = *s.u;
    if (!binds_own_name(u)) return;
    std::string path = path_of(u);
    if (u.file_deleted()) unlink(path.c_str());
    if (u.has_moved_to() && rename(path.c_str(), u.moved_to().c_str()) < 0)
      throw sys_error(format("cannot move its socket file %s to %s", root().host(path).c_str(),
                             root().host(u.moved_to()).c_str()));
  }

  void bind_names() {
    for (Sock& s : socks_)
      if (binds_own_name(*s.u)) bind_name(s);
  }

  // A listener takes its pending connections first: the backlog the dump
  // saw may be below their number (listen() again lowered it).
  void listen_all() {
    for (Sock& s : socks_) {
      if (s.u->state() != kListening) continue;
      int backlog = std::max<int>(int(s.u->backlog()), s.u->icons_size());
      if (listen(s.fd.get(), backlog) < 0) throw sys_error("listen");
    }
  }

  void connect_to(int fd, const std::string& name) const {
    Address a = address_of(name);
    int r;
    do r = connect(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len);
    while (r < 0 && errno == EINTR);
    if (r < 0) throw sys_error(format("cannot connect to %s", shown(name, root()).c_str()));
  }

  static UniqueFd accept_one(int listener) {
    UniqueFd fd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) throw sys_error("accept");
    return fd;
  }

  // A connection whose listener is gone: through a listener of the moment on
  // its name, if the name is free; else a socket pair, and the names are lost.
  void remake_by_name(Sock& s, Sock& client) {
    const img::UnixSocketEntry& u = *s.u;
    std::string path = path_of(u);
    struct stat st;
    bool free = is_abstract(u.name()) || lstat(path.c_str(), &st) < 0;
    UniqueFd temp;
    if (free) {
      temp.reset(socket(AF_UNIX, type_of(s), 0));
      try {
        if (!temp) throw sys_error("socket");
        bind_to(temp.get(), u);
      } catch (const Error&) {
        free = false;
      }
    }
    if (!free) {
      LOG_WARN("unix socket %u: its connection (accepted on %s, a name now taken) is made again as a socket pair: "
               "both ends lose their names",
               u.ino(), printable(u.name()).c_str());
      int sv[2];
      if (socketpair(AF_UNIX, type_of(s), 0, sv) < 0) throw sys_error("socketpair");
      s.fd.reset(sv[0]);
      client.fd.reset(sv[1]);
      return;
    }
    if (listen(temp.get(), 1) < 0) throw sys_error("listen");
    connect_to(client.fd.get(), u.name());  // the client is unnamed: no bind_dir of its own
    s.fd = accept_one(temp.get());
    temp.reset();
    if (!is_abstract(u.name())) unlink(path.c_str());
  }

  void accept_connections() {
    for (Sock& s : socks_) {
      if (s.u->by_name()) {
        remake_by_name(s, need(s.u->peer(), s));
        continue;
      }
      if (!s.u->accepted()) continue;
      Sock& l = need(s.u->listener(), s);
      Sock& client = need(s.u->peer(), s);
      connect_listener(client, l);
      s.fd = accept_one(l.fd.get());
    }
  }

  // A client connects to its listener by the listener's own name (and
  // directory).
  void connect_listener(Sock& client, const Sock& l) const {
    UniqueFd cwd;
    if (!l.u->bind_dir().empty()) {
      cwd.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!cwd || chdir(l.u->bind_dir().c_str()) < 0) throw sys_error("cannot enter " + root().host(l.u->bind_dir()));
    }
    try {
      connect_to(client.fd.get(), l.u->name());
    } catch (...) {
      if (cwd) (void)!fchdir(cwd.get());
      throw;
    }
    if (cwd && fchdir(cwd.get()) < 0) throw sys_error("cannot return to ckpt's directory");
  }

  void connect_pending() {
    for (Sock& l : socks_) {
      if (l.u->state() != kListening) continue;
      for (uint32_t ino : l.u->icons())
        for (Sock& c : socks_)
          if (c.u->pending() && c.u->ino() == ino && c.u->listener() == l.entry->id()) connect_listener(c, l);
      // Connections from outside the tree are not made again (finish()).
      if (listen(l.fd.get(), int(l.u->backlog())) < 0) throw sys_error("listen");
    }
  }

  static void set_int(int fd, int name, int value, const char* what) {
    if (setsockopt(fd, SOL_SOCKET, name, &value, sizeof(value)) < 0) throw sys_error(format("setsockopt(%s)", what));
  }

  static void set_timeo(int fd, int name, uint64_t us, const char* what) {
    timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
    if (setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) < 0) throw sys_error(format("setsockopt(%s)", what));
  }

  // The kernel doubles what it is given: half the dumped value, forced past
  // net.core.[rw]mem_max as the dumped process may have been.
  static void set_buffer(int fd, int name, int force, uint32_t value, const char* what) {
    if (!value) return;
    int half = int(value / 2);
    if (setsockopt(fd, SOL_SOCKET, force, &half, sizeof(half)) == 0) return;
    set_int(fd, name, half, what);
  }

  static void set_options(Sock& s) {
    int fd = s.fd.get();
    const img::UnixSocketEntry& u = *s.u;
    set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, u.sndbuf(), "SO_SNDBUF");
    set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, u.rcvbuf(), "SO_RCVBUF");
    if (u.passcred()) set_int(fd, SO_PASSCRED, 1, "SO_PASSCRED");
    if (u.passsec()) set_int(fd, SO_PASSSEC, 1, "SO_PASSSEC");
    if (u.passpidfd()) set_int(fd, SO_PASSPIDFD, 1, "SO_PASSPIDFD");
    if (u.rcvtimeo_us()) set_timeo(fd, SO_RCVTIMEO, u.rcvtimeo_us(), "SO_RCVTIMEO");
    if (u.sndtimeo_us()) set_timeo(fd, SO_SNDTIMEO, u.sndtimeo_us(), "SO_SNDTIMEO");
    if (u.has_rcvlowat() && u.rcvlowat() != 1) set_int(fd, SO_RCVLOWAT, u.rcvlowat(), "SO_RCVLOWAT");
    if (u.priority()) set_int(fd, SO_PRIORITY, int(u.priority()), "SO_PRIORITY");
    if (u.mark()) set_int(fd, SO_MARK, int(u.mark()), "SO_MARK");
  }

  // ---- the queues ----

  // Who sends the message `m` to `to` again: its peer for a connection; for
  // a datagram, its sender if it is in the group, else an unnamed socket of
  // the moment.  `temp` holds that one.
  int sender_of(const Sock& to, const img::UnixMessage& m, UniqueFd& temp, bool& by_address) {
    const img::UnixSocketEntry& u = *to.u;
    uint32_t to_id = to.entry->id();
    by_address = false;
    if (u.peer_gone()) return ghost_.at(to_id).get();
    if (u.type() != SOCK_DGRAM) {
      uint32_t peer = u.has_pair() ? u.pair() : u.peer();
      if (!peer) throw Error(format("unix socket %u has queued data and no peer in the tree", u.ino()));
      return need(peer, to).fd.get();
    }
    // A named sender is that socket; an unnamed one, preferably the end of
    // a pair, which sends without an address.
    const Sock* from = nullptr;
    for (const Sock& s : socks_) {
      if (s.u->state() == kListening || s.u->accepted()) continue;
      if (m.has_sender() ? s.u->name() != m.sender() : s.u->has_name()) continue;
      if (s.u->pair() == to_id) return s.fd.get();
      if (!from && (m.has_sender() || s.u->peer() == to_id)) from = &s;
    }
    if (!u.has_name())
      throw Error(format("unix socket %u has queued datagrams from a socket that cannot send them again", u.ino()));
    by_address = true;
    if (from) return from->fd.get();
    temp.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!temp) throw sys_error("socket");
    return temp.get();
  }

  void send_message(int from, const Sock& to, const img::UnixMessage& m, bool by_address) {
    std::vector<int> fds;
    for (uint32_t id : m.fds()) {
      Sock* own = member(id);
      fds.push_back(own ? own->fd.get() : req_.fd_of(id));
    }
    std::optional<ucred> creds;
    if (m.has_creds()) creds = ucred{pid_t(m.creds().pid()), m.creds().uid(), m.creds().gid()};
    Address a;
    if (by_address) {
      // A relative name is sent to through its directory's full path.
      a = address_of(to.u->bind_dir().empty() || is_abstract(to.u->name()) ? to.u->name() : path_of(*to.u));
    }
    const std::string& data = m.data();
    size_t done = 0;
    bool first = true;
    do {
      ssize_t n = send_once(from, data.data() + done, data.size() - done, first ? fds : std::vector<int>{},
                            first ? creds : std::nullopt, by_address ? &a : nullptr);
      if (n < 0 && errno == ESRCH && creds && first) {
        // The sender's pid does not exist (yet): our own, with its ids.
        LOG_WARN("unix socket %u: a queued message from pid %d is sent again with the credentials of pid %d",
                 to.u->ino(), creds->pid, getpid());
        creds->pid = getpid();
        continue;
      }
      if (n < 0) throw sys_error(format("cannot put back the receive queue of unix socket %u", to.u->ino()));
      done += size_t(n);
      first = false;
    } while (done < data.size());
  }

  static ssize_t send_once(int from, const char* data, size_t len, const std::vector<int>& fds,
                           const std::optional<ucred>& creds, const Address* to) {
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()) + CMSG_SPACE(sizeof(ucred)));
    iovec iov{const_cast<char*>(data), len};
    msghdr msg{};
    if (to) {
      msg.msg_name = const_cast<sockaddr_un*>(&to->addr);
      msg.msg_namelen = to->len;
    }
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    size_t used = 0;
    if (!fds.empty() || creds) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      if (!fds.empty()) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
        used += CMSG_SPACE(sizeof(int) * fds.size());
        c = CMSG_NXTHDR(&msg, c);
      }
      if (creds) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(ucred));
        memcpy(CMSG_DATA(c), &*creds, sizeof(ucred));
        used += CMSG_SPACE(sizeof(ucred));
      }
      msg.msg_controllen = used;
    }
    ssize_t n;
    do n = sendmsg(from, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void put_back_queue(const Sock& s) {
    for (const img::UnixMessage& m : s.u->queue()) {
      UniqueFd temp;
      bool by_address;
      int from = sender_of(s, m, temp, by_address);
      send_message(from, s, m, by_address);
    }
  }

  // Datagram sockets connected by name, and sockets whose peer is outside.
  void connect_peers() {
    for (Sock& s : socks_) {
      const img::UnixSocketEntry& u = *s.u;
      if (u.external_peer()) {
        connect_to(s.fd.get(), u.peer_name());
        continue;
      }
      if (u.type() == SOCK_DGRAM && u.peer() && !u.has_pair()) connect_listener(s, need(u.peer(), s));
    }
  }

  static void shut_down(const Sock& s) {
    uint32_t sd = s.u->shutdown() & (kRcvShutdown | kSendShutdown);
    if (!sd) return;
    int how = sd == (kRcvShutdown | kSendShutdown) ? SHUT_RDWR : sd == kRcvShutdown ? SHUT_RD : SHUT_WR;
    if (shutdown(s.fd.get(), how) < 0) throw sys_error("shutdown");
  }

  // After the data: a filter would judge the data put back, and peeks
  // moved the offset.
  static void finish_socket(const Sock& s) {
    int fd = s.fd.get();
    const img::UnixSocketEntry& u = *s.u;
    if (u.filter_size() > 0) {
      std::vector<sock_filter> prog;
      for (uint64_t f : u.filter())
        prog.push_back({uint16_t(f >> 48), uint8_t(f >> 40), uint8_t(f >> 32), uint32_t(f)});
      sock_fprog fprog{uint16_t(prog.size()), prog.data()};
      if (prog.size() > BPF_MAXINSNS) throw Error("its socket filter is too long");
      if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0)
        throw sys_error("setsockopt(SO_ATTACH_FILTER)");
      if (u.filter_locked()) set_int(fd, SO_LOCK_FILTER, 1, "SO_LOCK_FILTER");
    }
    if (u.has_peek_off() && u.peek_off() >= 0) set_int(fd, SO_PEEK_OFF, u.peek_off(), "SO_PEEK_OFF");
    int flags = int(u.flags() & O_NONBLOCK);
    if (flags && fcntl(fd, F_SETFL, flags) < 0) throw sys_error("fcntl(F_SETFL)");
  }

  const OpenRequest& req_;
  std::vector<Sock> socks_;
  std::map<uint32_t, UniqueFd> ghost_;  // the other end of a peer_gone socket
  std::map<uint32_t, size_t> index_;
};

std::vector<UniqueFd> open_group(const OpenRequest& req) { return GroupMaker(req).make(); }

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_unix_sk()) return "?";
  const img::UnixSocketEntry& u = entry.unix_sk();
  const char* type = u.type() == SOCK_STREAM ? "stream" : u.type() == SOCK_DGRAM ? "datagram" : "seqpacket";
  std::string s = format("%s socket %u", type, u.ino());
  if (u.has_name()) s += " " + printable(u.name());
  if (u.state() == kListening) s += format(" listening (backlog %u)", u.backlog());
  if (u.pair()) s += format(", pair of file %u", u.pair());
  if (u.peer()) s += format(", peer file %u", u.peer());
  if (u.listener()) s += format(", %s listener file %u", u.pending() ? "pending on" : "accepted from", u.listener());
  if (u.external_peer()) s += ", external peer " + printable(u.peer_name());
  if (u.queue_size()) s += format(", %d queued", u.queue_size());
  if (u.shutdown()) s += format(", shutdown %u", u.shutdown());
  return s;
}

}  // namespace

const FileModule kUnixSocketModule = {
    .kind = img::FILE_UNIX_SOCKET,
    .name = "unix socket",
    .open_per_fd = false,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = finish,
    .check = check,
    .open = open_group,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
