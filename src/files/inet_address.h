// An IPv4 or IPv6 address with its port, as the inet socket modules keep
// it: from and to sockaddr, and from the bytes an image holds (checked).
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace ckpt::files {

struct InetAddress {
  int family = 0;                 // AF_INET, AF_INET6
  uint8_t addr[16] = {};          // 4 bytes used for AF_INET
  uint16_t port = 0;
  uint32_t scope_id = 0;          // IPv6 link-local scope
  size_t addr_len() const { return family == AF_INET6 ? 16 : 4; }
  bool is_any() const;
  std::string bytes() const { return std::string(reinterpret_cast<const char*>(addr), addr_len()); }
  std::string text() const;       // "127.0.0.1:5000", "[::1]:5000"
};

InetAddress from_sockaddr(const sockaddr_storage& ss);
socklen_t to_sockaddr(const InetAddress& a, sockaddr_storage& ss);
std::optional<InetAddress> local_address(int fd);   // getsockname
std::optional<InetAddress> peer_address(int fd);    // getpeername

// The address an entry keeps (src_* or dst_*), checked: a corrupted image
// gives an Error "its WHAT address is 3 bytes, port 80: not an IPv4 address".
InetAddress entry_address(int family, const std::string& bytes, uint32_t port, uint32_t scope_id, const char* what);

}  // namespace ckpt::files
