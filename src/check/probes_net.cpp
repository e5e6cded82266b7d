// Probes of the network facilities behind --tcp-established: TCP_REPAIR
// (through libsoccr) and nftables (the network lock, src/net/network_lock.h,
// taken for real on a fake connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "check/probe.h"
#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "net/network_lock.h"
#include "soccr.h"

namespace ckpt::check {
namespace {

UniqueFd tcp_socket() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw sys_error("cannot create a TCP socket");
  return fd;
}

struct Connection {
  UniqueFd client, server;
};

// A connected pair over 127.0.0.1 with a few bytes already delivered, so
// that both sides' sequence numbers have moved.
Connection loopback_connection() {
  UniqueFd listener = tcp_socket();
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener.get(), 1) != 0 ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw sys_error("cannot listen on 127.0.0.1");
  Connection c;
  c.client = tcp_socket();
  if (connect(c.client.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throw sys_error("cannot connect to 127.0.0.1");
  c.server.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c.server) throw sys_error("cannot accept on 127.0.0.1");
  static const char hello[] = "hello";
  if (send(c.client.get(), hello, sizeof(hello), 0) != sizeof(hello))
    throw sys_error("cannot send on loopback");
  struct pollfd p = {c.server.get(), POLLIN, 0};
  char buf[sizeof(hello)];
  if (poll(&p, 1, 1000) != 1 || recv(c.server.get(), buf, sizeof(buf), 0) != sizeof(buf))
    throw Error("the bytes sent over loopback did not arrive within 1 s");
  return c;
}

// The network lock needs CAP_NET_ADMIN in ckpt's network namespace: say so
// before the kernel's bare "Operation not permitted".
void check_net_admin() {
  std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_get_proc(), cap_free);
  cap_flag_value_t v = CAP_CLEAR;
  if (!caps || cap_get_flag(caps.get(), CAP_NET_ADMIN, CAP_EFFECTIVE, &v) != 0)
    throw sys_error("cannot read ckpt's capabilities");
  if (v != CAP_SET)
    throw Error("ckpt has no CAP_NET_ADMIN, which the nftables network lock needs (run ckpt as root)");
}

// A connection nobody has: 192.0.2.0/24 and 2001:db8::/32 are documentation
// ranges, and the namespace is empty anyway.
net::Connection fake_connection(int family) {
  net::Connection c;
  c.family = family;
  if (family == AF_INET) {
    inet_pton(AF_INET, "192.0.2.1", c.local_addr.data());
    inet_pton(AF_INET, "192.0.2.2", c.remote_addr.data());
  } else {
    inet_pton(AF_INET6, "2001:db8::1", c.local_addr.data());
    inet_pton(AF_INET6, "2001:db8::2", c.remote_addr.data());
  }
  c.local_port = 5000;
  c.remote_port = 41234;
  return c;
}

// What the kernel lacks when the lock is refused for another reason than
// permission (nf_tables absent, or built without the inet family or sets).
std::string kernel_hint(const std::string& err) {
  if (err.find("not permitted") != std::string::npos) return "";
  return "; the lock needs the kernel's nf_tables with the inet family and hash sets "
         "(CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET; the nf_tables module loaded or loadable)";
}

}  // namespace

std::string probe_tcp_repair() {
  Connection c = loopback_connection();
  soccr::Repair client_repair(c.client.get());
  soccr::Repair server_repair(c.server.get());
  soccr::TcpState client = soccr::save(c.client.get());
  soccr::TcpState server = soccr::save(c.server.get());
  // All data was delivered and acknowledged, so each side's send sequence is
  // the other's receive sequence.
  if (client.send_seq != server.recv_seq || server.send_seq != client.recv_seq)
    throw Error(format("the repaired sequence numbers disagree "
                       "(client send %u recv %u, server send %u recv %u)",
                       client.send_seq, client.recv_seq, server.send_seq, server.recv_seq));
  client_repair.off();
  server_repair.off();
  return {};
}

std::string probe_nftables() {
  check_net_admin();
  // A private network namespace: nothing on the host sees the test table.
  // This runs in a throw-away probe process, so ckpt stays where it was.
  if (unshare(CLONE_NEWNET) != 0) throw sys_error("cannot create a network namespace for the nftables test");
  const std::string table = "ckpt_check";
  try {
    // Exactly what a dump does: the lock of an IPv4 and an IPv6 connection.
    net::NetworkLock lock = net::NetworkLock::lock(table, {fake_connection(AF_INET), fake_connection(AF_INET6)});
    if (!net::NetworkLock::table_exists(table))
      throw Error("nftables table inet " + table + " was made but is not listed");
    lock.unlock();
  } catch (const Error& e) {
    throw Error(e.what() + kernel_hint(e.what()));
  }
  if (net::NetworkLock::table_exists(table))
    throw Error("nftables table inet " + table + " is still listed after unlock");
  return "the network lock (table inet ckpt_check, IPv4 and IPv6 tuple sets at input and output) "
         "was taken and released";
}

}  // namespace ckpt::check
