#include "files/tcp_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/files.h"
#include "files/inet_address.h"
#include "files/inet_diag.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

soccr::Endpoint endpoint_of(const InetAddress& a) {
  soccr::Endpoint e;
  e.len = to_sockaddr(a, e.addr);
  return e;
}

InetAddress local_of(const img::InetSocketEntry& e) {
  return entry_address(int(e.family()), e.src_addr(), e.src_port(), e.scope_id(), "local");
}

InetAddress remote_of(const img::InetSocketEntry& e) {
  return entry_address(int(e.family()), e.dst_addr(), e.dst_port(), e.dst_scope_id(), "peer");
}

net::Connection lock_entry(const InetAddress& local, const InetAddress& remote) {
  net::Connection c;
  c.family = local.family;
  memcpy(c.local_addr.data(), local.addr, local.addr_len());
  memcpy(c.remote_addr.data(), remote.addr, remote.addr_len());
  c.local_port = local.port;
  c.remote_port = remote.port;
  return c;
}

soccr::TcpState state_of(const img::InetSocketEntry& e) {
  if (!e.has_tcp()) throw Error("its entry has no TCP connection");
  const img::TcpConnection& t = e.tcp();
  soccr::TcpState st;
  st.family = int(e.family());
  st.local = endpoint_of(local_of(e));
  st.remote = endpoint_of(remote_of(e));
  st.state = TCP_ESTABLISHED;
  st.send_seq = t.send_seq();
  st.recv_seq = t.recv_seq();
  st.mss = t.mss();
  st.timestamp = t.timestamp();
  st.sack = t.sack();
  st.timestamps = t.timestamps();
  st.window_scaling = t.window_scaling();
  if (t.snd_wscale() > 14 || t.rcv_wscale() > 14)
    throw Error(format("its window scales %u and %u are above 14", t.snd_wscale(), t.rcv_wscale()));
  st.snd_wscale = uint8_t(t.snd_wscale());
  st.rcv_wscale = uint8_t(t.rcv_wscale());
  st.has_window = t.has_snd_wnd();
  st.snd_wl1 = t.snd_wl1();
  st.snd_wnd = t.snd_wnd();
  st.max_window = t.max_window();
  st.rcv_wnd = t.rcv_wnd();
  st.rcv_wup = t.rcv_wup();
  st.sent = t.sent();
  st.unsent = t.unsent();
  st.received = t.received();
  return st;
}

void save_state(const soccr::TcpState& st, img::TcpConnection& t) {
  t.set_send_seq(st.send_seq);
  t.set_recv_seq(st.recv_seq);
  t.set_mss(st.mss);
  t.set_timestamp(st.timestamp);
  t.set_sack(st.sack);
  t.set_timestamps(st.timestamps);
  t.set_window_scaling(st.window_scaling);
  t.set_snd_wscale(st.snd_wscale);
  t.set_rcv_wscale(st.rcv_wscale);
  if (st.has_window) {
    t.set_snd_wl1(st.snd_wl1);
    t.set_snd_wnd(st.snd_wnd);
    t.set_max_window(st.max_window);
    t.set_rcv_wnd(st.rcv_wnd);
    t.set_rcv_wup(st.rcv_wup);
  }
  if (!st.sent.empty()) t.set_sent(st.sent);
  if (!st.unsent.empty()) t.set_unsent(st.unsent);
  if (!st.received.empty()) t.set_received(st.received);
}

}  // namespace

void TcpRepairs::silence() {
  for (const UniqueFd& sock : held_) {
    try {
      soccr::Repair(sock.get()).keep();
    } catch (const soccr::Error& err) {
      // Then it may send a FIN as it goes (the lock drops it), and linger
      // until the kernel gives up on it.
      LOG_WARN("a TCP connection of the tree goes with its tree as a normal close: %s", err.what());
    }
  }
}

std::string connection_text(const img::InetSocketEntry& e) {
  try {
    return local_of(e).text() + " -> " + remote_of(e).text();
  } catch (const Error&) {
    return "(bad addresses)";
  }
}

void save_connection(int sock, img::InetSocketEntry& e, TcpRepairs& repairs) {
  std::optional<InetAddress> local = local_address(sock), remote = peer_address(sock);
  if (!local || !remote) throw sys_error("cannot read the addresses of its TCP connection");
  std::string what = local->text() + " -> " + remote->text();
  UniqueFd ours(fcntl(sock, F_DUPFD_CLOEXEC, 0));
  if (!ours) throw sys_error("cannot hold TCP connection " + what);
  try {
    soccr::Repair repair(ours.get());
    soccr::TcpState st = soccr::save(ours.get());
    save_state(st, *e.mutable_tcp());
    repair.off();
    repairs.hold(std::move(ours));
  } catch (const soccr::Error& err) {
    throw Error(format("cannot save TCP connection %s: %s", what.c_str(), err.what()));
  }
  e.set_dst_addr(remote->bytes());
  e.set_dst_port(remote->port);
  if (remote->scope_id) e.set_dst_scope_id(remote->scope_id);
  const img::TcpConnection& t = e.tcp();
  LOG_INFO("TCP connection %s: saved with %zu bytes sent and not acknowledged, %zu not sent, %zu not read",
           what.c_str(), t.sent().size(), t.unsent().size(), t.received().size());
}

void save_closed_connection(int sock, img::InetSocketEntry& e) {
  std::optional<InetAddress> remote = peer_address(sock);
  if (!remote) throw sys_error("cannot read the peer of its TCP connection");
  e.set_dst_addr(remote->bytes());
  e.set_dst_port(remote->port);
  if (remote->scope_id) e.set_dst_scope_id(remote->scope_id);
  std::optional<InetAddress> local = local_address(sock);
  LOG_INFO("TCP connection %s -> %s: saved without its state (--tcp-close): it comes back closed",
           local ? local->text().c_str() : "?", remote->text().c_str());
}

void restore_connection(int sock, const img::InetSocketEntry& e) {
  soccr::TcpState st = state_of(e);
  try {
    soccr::restore(sock, st);
  } catch (const soccr::Error& err) {
    throw Error(format("cannot restore TCP connection %s: %s", connection_text(e).c_str(), err.what()));
  }
}

void restore_closed(int sock, const img::InetSocketEntry& e) {
  InetAddress local = local_of(e), remote = remote_of(e);
  sockaddr_storage ss;
  try {
    // In repair mode connect() sends no SYN and bind() takes the address
    // even if a listener of the tree holds its port; the disconnect that
    // follows sends nothing either.
    soccr::Repair repair(sock);
    socklen_t len = to_sockaddr(local, ss);
    if (bind(sock, reinterpret_cast<sockaddr*>(&ss), len) != 0) throw sys_error("cannot bind it to " + local.text());
    len = to_sockaddr(remote, ss);
    if (connect(sock, reinterpret_cast<sockaddr*>(&ss), len) != 0)
      throw sys_error("cannot connect it to " + remote.text());
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    if (connect(sock, &unspec, sizeof(unspec)) != 0) throw sys_error("cannot close it");
  } catch (const soccr::Error& err) {
    throw Error(format("cannot restore TCP connection %s as closed: %s", connection_text(e).c_str(), err.what()));
  }
  LOG_INFO("TCP connection %s: restored as closed (--tcp-close)", connection_text(e).c_str());
}

std::vector<net::Connection> tree_connections(const std::vector<std::pair<pid_t, std::vector<int>>>& fds) {
  std::map<uint64_t, diag::InetSocket> established;
  for (int family : {AF_INET, AF_INET6})
    for (const diag::InetSocket& s : diag::inet_sockets(family, IPPROTO_TCP, 1u << TCP_ESTABLISHED))
      if (s.inode) established.emplace(s.inode, s);
  std::vector<net::Connection> out;
  if (established.empty()) return out;
  std::set<uint64_t> seen;
  for (const auto& [pid, numbers] : fds)
    for (int fd : numbers) {
      struct stat st;
      if (stat(proc::path(pid, "fd/" + std::to_string(fd)).c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
      auto it = established.find(st.st_ino);
      if (it == established.end() || !seen.insert(st.st_ino).second) continue;
      const diag::InetSocket& s = it->second;
      InetAddress local, remote;
      local.family = remote.family = s.family;
      memcpy(local.addr, s.src, sizeof(s.src));
      memcpy(remote.addr, s.dst, sizeof(s.dst));
      local.port = s.sport;
      remote.port = s.dport;
      out.push_back(lock_entry(local, remote));
    }
  return out;
}

void wake_connections(const FilesImage& image) {
  for (const auto& [pid, fds] : image.fds) {
    UniqueFd pidfd;
    std::set<uint32_t> done;
    for (const img::FdinfoEntry& e : fds) {
      const img::FileEntry& f = image.file(e.id());
      if (f.kind() != img::FILE_INET_SOCKET || !f.inet_sk().has_tcp() || !done.insert(e.id()).second) continue;
      if (!pidfd) pidfd.reset(int(syscall(SYS_pidfd_open, pid, 0)));
      UniqueFd sock(pidfd ? int(syscall(SYS_pidfd_getfd, pidfd.get(), int(e.fd()), 0)) : -1);
      try {
        if (!sock) throw sys_error("cannot take it from its process");
        soccr::Repair(sock.get()).off();  // leaving repair mode sends the probe
      } catch (const std::exception& err) {
        LOG_WARN("TCP connection %s (fd %u of pid %d): no window probe after the unlock: %s",
                 connection_text(f.inet_sk()).c_str(), e.fd(), pid, err.what());
      }
    }
  }
}

std::vector<net::Connection> image_connections(const FilesImage& image) {
  std::vector<net::Connection> out;
  for (const auto& [id, f] : image.files)
    if (f.kind() == img::FILE_INET_SOCKET && f.has_inet_sk() && f.inet_sk().has_tcp())
      out.push_back(lock_entry(local_of(f.inet_sk()), remote_of(f.inet_sk())));
  return out;
}

}  // namespace ckpt::files
