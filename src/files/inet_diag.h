// What the kernel's socket diagnostics (NETLINK_SOCK_DIAG, through libnl3)
// say about the inet and netlink sockets of ckpt's network namespace: the
// state, addresses and queues of a socket found by its inode, without an fd
// on it (the dump's pre-flight has none), and the sockets no process holds
// (connections waiting in a listener's accept queue).
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ckpt::files::diag {

struct InetSocket {
  int family = 0;                 // AF_INET, AF_INET6
  int protocol = 0;               // IPPROTO_TCP, IPPROTO_UDP
  int state = 0;                  // TCP_ESTABLISHED ... (the kernel's TCP states, UDP too)
  uint8_t src[16] = {};           // 4 bytes used for AF_INET
  uint8_t dst[16] = {};
  uint16_t sport = 0;             // host order
  uint16_t dport = 0;
  uint64_t inode = 0;             // 0: no process holds it (queued, orphaned, TIME_WAIT)
  uint32_t rqueue = 0;            // TCP_LISTEN: connections waiting to be accepted; else bytes queued
  uint32_t wqueue = 0;            // TCP_LISTEN: the backlog; else bytes not yet sent
  uint32_t uid = 0;
  int shutdown = -1;              // INET_DIAG_SHUTDOWN, -1 if the kernel did not say
};

// Every socket of `protocol` and `family` in the states of the mask
// (1 << TCP_LISTEN | ...).  Throws Error if the kernel cannot tell (no
// inet_diag, tcp_diag or udp_diag).
std::vector<InetSocket> inet_sockets(int family, int protocol, uint32_t states);

// The TCP or UDP socket of inode `inode`, either family; none if the
// kernel lists none (a TCP socket never bound, say).
std::optional<InetSocket> find_inet(uint64_t inode, int protocol);

// One listing of every socket of a protocol, both families, by inode: the
// dump's pre-flight asks it for each socket of the tree instead of the
// kernel (a tree of 1,000 connections would list them 1,000 times).
class InetIndex {
 public:
  explicit InetIndex(int protocol);
  const InetSocket* find(uint64_t inode) const;

 private:
  std::unordered_map<uint64_t, InetSocket> by_inode_;
};

// "127.0.0.1:8080", "[::1]:8080".
std::string endpoint(int family, const uint8_t* addr, uint16_t port);

// The kernel's name of a TCP state: "ESTABLISHED", "SYN_SENT" ...
std::string tcp_state_name(int state);

struct NetlinkSocket {
  int protocol = 0;
  uint32_t portid = 0;
  uint32_t dst_portid = 0;
  uint32_t dst_group = 0;
  uint64_t inode = 0;
  uint32_t rqueue = 0;            // bytes of messages not yet read
  uint32_t flags = 0;             // NDIAG_FLAG_*
};

// The netlink socket of inode `inode`; none if the kernel lists none.
std::optional<NetlinkSocket> find_netlink(uint64_t inode);

}  // namespace ckpt::files::diag
