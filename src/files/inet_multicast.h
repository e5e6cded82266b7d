// Multicast group memberships of inet datagram sockets, which no
// getsockopt lists: the groups the host has joined (/proc/net/igmp and
// /proc/net/igmp6, per interface) are the candidates, and
// getsockopt(MCAST_MSFILTER) on each tells whether the socket is a member,
// with its filter mode and sources.  Restored with MCAST_JOIN_GROUP on the
// same interface (checked by name) and setsockopt(MCAST_MSFILTER).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "inet.pb.h"

namespace ckpt::files {

// A group joined on an interface, as /proc/net/igmp or igmp6 lists it.
struct JoinedGroup {
  int family = 0;          // AF_INET, AF_INET6
  int ifindex = 0;
  std::string ifname;
  uint8_t addr[16] = {};   // 4 bytes used for AF_INET, network order
};

// The groups of /proc/net/igmp's text (a device line "IDX\tNAME : COUNT
// QUERIER", then one line per group, its address in hex as the host reads
// the network-order word) and of /proc/net/igmp6's ("IDX NAME HEX32 USERS
// FLAGS TIMER").  Lines that do not parse are skipped.
std::vector<JoinedGroup> parse_igmp(const std::string& text);
std::vector<JoinedGroup> parse_igmp6(const std::string& text);

// "239.1.2.3", "ff15::1234".
std::string group_text(int family, const std::string& bytes);

// Dump: the memberships of socket `fd` (of family `sock_family`; an IPv6
// socket can also be in IPv4 groups), added to `e`.
void dump_multicast(int fd, int sock_family, img::InetSocketEntry& e);

// Restore, before anything is made: throws Error if an entry is malformed
// or its interface is gone (or has another name); `what` names the socket.
void check_multicast(const img::InetSocketEntry& e, const std::string& what);

// Restore: joins each group again, then sets its filter.
void restore_multicast(int fd, const img::InetSocketEntry& e, const std::string& what);

}  // namespace ckpt::files
