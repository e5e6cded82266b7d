#include "files/socket_kind.h"

#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "ckpt/error.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

// The kernel's protocol names (struct proto's name, which sockfs gives the
// socket's dentry) and what they say about the socket.
struct ProtoName {
  const char* name;
  int family, type, protocol;
};
constexpr ProtoName kProtoNames[] = {
    {"TCP", AF_INET, SOCK_STREAM, IPPROTO_TCP},
    {"TCPv6", AF_INET6, SOCK_STREAM, IPPROTO_TCP},
    {"UDP", AF_INET, SOCK_DGRAM, IPPROTO_UDP},
    {"UDPv6", AF_INET6, SOCK_DGRAM, IPPROTO_UDP},
    {"UDP-Lite", AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE},
    {"UDPLITEv6", AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE},
    {"RAW", AF_INET, SOCK_RAW, -1},
    {"RAWv6", AF_INET6, SOCK_RAW, -1},
    {"PING", AF_INET, SOCK_DGRAM, IPPROTO_ICMP},
    {"PINGv6", AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6},
    {"MPTCP", AF_INET, SOCK_STREAM, IPPROTO_MPTCP},
    {"MPTCPv6", AF_INET6, SOCK_STREAM, IPPROTO_MPTCP},
    {"SCTP", AF_INET, -1, IPPROTO_SCTP},
    {"SCTPv6", AF_INET6, -1, IPPROTO_SCTP},
    {"L2TP/IP", AF_INET, SOCK_DGRAM, -1},
    {"L2TP/IPv6", AF_INET6, SOCK_DGRAM, -1},
    {"UNIX-STREAM", AF_UNIX, SOCK_STREAM, 0},
    {"UNIX", AF_UNIX, -1, 0},  // datagram or seqpacket
    {"NETLINK", AF_NETLINK, -1, -1},
    {"PACKET", AF_PACKET, -1, -1},
    {"ALG", AF_ALG, -1, -1},
    {"AF_VSOCK", AF_VSOCK, -1, -1},
    {"KEY", AF_KEY, SOCK_RAW, -1},
    {"XDP", AF_XDP, SOCK_RAW, -1},
    {"TIPC", AF_TIPC, -1, -1},
    {"RDS", AF_RDS, SOCK_SEQPACKET, -1},
    {"KCM", AF_KCM, -1, -1},
    {"SMC", AF_SMC, SOCK_STREAM, -1},
    {"SMC6", AF_SMC, SOCK_STREAM, -1},
    {"QIPCRTR", AF_QIPCRTR, SOCK_DGRAM, -1},
    {"RXRPC", AF_RXRPC, -1, -1},
    {"MCTP", AF_MCTP, SOCK_DGRAM, -1},
    {"PHONET", AF_PHONET, -1, -1},
    {"CAN_RAW", AF_CAN, SOCK_RAW, -1},
    {"CAN_BCM", AF_CAN, SOCK_DGRAM, -1},
    {"CAN_ISOTP", AF_CAN, SOCK_DGRAM, -1},
    {"CAN_J1939", AF_CAN, SOCK_DGRAM, -1},
    {"HCI", AF_BLUETOOTH, -1, -1},
    {"L2CAP", AF_BLUETOOTH, -1, -1},
    {"SCO", AF_BLUETOOTH, -1, -1},
    {"RFCOMM", AF_BLUETOOTH, -1, -1},
    {"ISO", AF_BLUETOOTH, -1, -1},
    {"BNEP", AF_BLUETOOTH, -1, -1},
    {"PPPOL2TP", AF_PPPOX, -1, -1},
    {"PPPOE", AF_PPPOX, -1, -1},
    {"NFC_RAW", AF_NFC, -1, -1},
    {"NFC_LLCP", AF_NFC, -1, -1},
};

int getsockopt_int(int fd, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  if (getsockopt(fd, SOL_SOCKET, name, &v, &len) < 0) return -1;
  return v;
}

std::string proto_name_of(const std::string& path) {
  char buf[64] = {};
  ssize_t n = getxattr(path.c_str(), "system.sockprotoname", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, strnlen(buf, size_t(n)));
}

std::string type_name(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "datagram";
    case SOCK_RAW: return "raw";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RDM: return "RDM";
  }
  return "";
}

}  // namespace

std::string netlink_protocol_name(int protocol) {
  switch (protocol) {
    case NETLINK_ROUTE: return "NETLINK_ROUTE";
    case NETLINK_USERSOCK: return "NETLINK_USERSOCK";
    case NETLINK_FIREWALL: return "NETLINK_FIREWALL";
    case NETLINK_SOCK_DIAG: return "NETLINK_SOCK_DIAG";
    case NETLINK_NFLOG: return "NETLINK_NFLOG";
    case NETLINK_XFRM: return "NETLINK_XFRM";
    case NETLINK_SELINUX: return "NETLINK_SELINUX";
    case NETLINK_ISCSI: return "NETLINK_ISCSI";
    case NETLINK_AUDIT: return "NETLINK_AUDIT";
    case NETLINK_FIB_LOOKUP: return "NETLINK_FIB_LOOKUP";
    case NETLINK_CONNECTOR: return "NETLINK_CONNECTOR";
    case NETLINK_NETFILTER: return "NETLINK_NETFILTER";
    case NETLINK_IP6_FW: return "NETLINK_IP6_FW";
    case NETLINK_DNRTMSG: return "NETLINK_DNRTMSG";
    case NETLINK_KOBJECT_UEVENT: return "NETLINK_KOBJECT_UEVENT";
    case NETLINK_GENERIC: return "NETLINK_GENERIC";
    case NETLINK_SCSITRANSPORT: return "NETLINK_SCSITRANSPORT";
    case NETLINK_ECRYPTFS: return "NETLINK_ECRYPTFS";
    case NETLINK_RDMA: return "NETLINK_RDMA";
    case NETLINK_CRYPTO: return "NETLINK_CRYPTO";
    case NETLINK_SMC: return "NETLINK_SMC";
  }
  return format("netlink protocol %d", protocol);
}

std::string family_name(int family) {
  switch (family) {
    case AF_UNIX: return "AF_UNIX";
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_NETLINK: return "AF_NETLINK";
    case AF_PACKET: return "AF_PACKET";
    case AF_ALG: return "AF_ALG";
    case AF_VSOCK: return "AF_VSOCK";
    case AF_BLUETOOTH: return "AF_BLUETOOTH";
    case AF_KEY: return "AF_KEY";
    case AF_XDP: return "AF_XDP";
    case AF_TIPC: return "AF_TIPC";
    case AF_RDS: return "AF_RDS";
    case AF_KCM: return "AF_KCM";
    case AF_SMC: return "AF_SMC";
    case AF_QIPCRTR: return "AF_QIPCRTR";
    case AF_RXRPC: return "AF_RXRPC";
    case AF_MCTP: return "AF_MCTP";
    case AF_PHONET: return "AF_PHONET";
    case AF_CAN: return "AF_CAN";
    case AF_PPPOX: return "AF_PPPOX";
    case AF_NFC: return "AF_NFC";
    case AF_LLC: return "AF_LLC";
    case AF_IB: return "AF_IB";
  }
  return format("family %d", family);
}

SocketKind socket_kind(const OpenFd& fd) {
  SocketKind k;
  if (!S_ISSOCK(fd.st.st_mode)) return k;
  k.proto_name = fd.file ? proto_name_of(format("/proc/self/fd/%d", fd.file.get()))
                         : proto_name_of(proc::path(fd.pid, format("fd/%d", fd.fd)));
  if (fd.file) {
    k.family = getsockopt_int(fd.file.get(), SO_DOMAIN);
    k.type = getsockopt_int(fd.file.get(), SO_TYPE);
    k.protocol = getsockopt_int(fd.file.get(), SO_PROTOCOL);
    return k;
  }
  for (const ProtoName& p : kProtoNames)
    if (k.proto_name == p.name) {
      k.family = p.family;
      k.type = p.type;
      k.protocol = p.protocol;
      break;
    }
  return k;
}

std::string socket_kind_name(const OpenFd& fd) {
  SocketKind k = socket_kind(fd);
  if (k.family < 0)
    return k.proto_name.empty() ? "socket" : format("socket (protocol %s)", k.proto_name.c_str());
  std::string family = family_name(k.family);
  std::string type = type_name(k.type);
  switch (k.family) {
    case AF_INET:
    case AF_INET6:
      if (k.type == SOCK_RAW)
        return k.protocol < 0 ? family + " raw socket" : format("%s raw socket (protocol %d)", family.c_str(), k.protocol);
      if (k.protocol == IPPROTO_ICMP || k.protocol == IPPROTO_ICMPV6) return family + " ICMP (ping) socket";
      if (!k.proto_name.empty()) {
        std::string name = k.proto_name.ends_with("v6") ? k.proto_name.substr(0, k.proto_name.size() - 2)
                                                        : k.proto_name;
        return family + " " + name + " socket";
      }
      break;
    case AF_NETLINK:
      if (k.protocol >= 0) return format("AF_NETLINK socket (%s)", netlink_protocol_name(k.protocol).c_str());
      break;
  }
  if (type.empty()) return family + " socket";
  return family + " " + type + " socket";
}

}  // namespace ckpt::files
