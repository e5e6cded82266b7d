// What a socket fd is (family, type, protocol), for the socket modules'
// claims and for refusals: "AF_ALG socket", "AF_INET raw socket".
#pragma once

#include <string>

#include "files/open_fd.h"

namespace ckpt::files {

struct SocketKind {
  int family = -1;                // AF_*; -1 if unknown
  int type = -1;                  // SOCK_*; -1 if unknown
  int protocol = -1;              // IPPROTO_*, NETLINK_*; -1 if unknown
  std::string proto_name;         // the kernel's name of its protocol: "TCP", "UDPv6", "NETLINK"
};

// From our duplicate when the OpenFd has one (getsockopt SO_DOMAIN,
// SO_TYPE, SO_PROTOCOL), else from /proc alone: the socket inode's
// "system.sockprotoname" attribute, read through /proc/PID/fd/N.  All -1
// and "" for an fd that is no socket.
SocketKind socket_kind(const OpenFd& fd);

// "AF_INET6", "AF_ALG", "family 45".
std::string family_name(int family);

// "NETLINK_ROUTE", "netlink protocol 99".
std::string netlink_protocol_name(int protocol);

// What kind_name() says of a socket: "AF_INET TCP socket", "AF_UNIX stream
// socket", "AF_ALG socket", "socket (protocol X)".
std::string socket_kind_name(const OpenFd& fd);

}  // namespace ckpt::files
