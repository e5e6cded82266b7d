#include "files/inet_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "ckpt/error.h"
#include "files/inet_diag.h"

namespace ckpt::files {

bool InetAddress::is_any() const {
  for (size_t i = 0; i < addr_len(); i++)
    if (addr[i]) return false;
  return true;
}

std::string InetAddress::text() const { return diag::endpoint(family, addr, port); }

InetAddress from_sockaddr(const sockaddr_storage& ss) {
  InetAddress a;
  a.family = ss.ss_family;
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    memcpy(a.addr, &in.sin_addr, 4);
    a.port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    memcpy(a.addr, &in6.sin6_addr, 16);
    a.port = ntohs(in6.sin6_port);
    a.scope_id = in6.sin6_scope_id;
  }
  return a;
}

socklen_t to_sockaddr(const InetAddress& a, sockaddr_storage& ss) {
  memset(&ss, 0, sizeof(ss));
  if (a.family == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    memcpy(&in.sin_addr, a.addr, 4);
    in.sin_port = htons(a.port);
    return sizeof(in);
  }
  auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
  in6.sin6_family = AF_INET6;
  memcpy(&in6.sin6_addr, a.addr, 16);
  in6.sin6_port = htons(a.port);
  in6.sin6_scope_id = a.scope_id;
  return sizeof(in6);
}

std::optional<InetAddress> local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return from_sockaddr(ss);
}

std::optional<InetAddress> peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return from_sockaddr(ss);
}

InetAddress entry_address(int family, const std::string& bytes, uint32_t port, uint32_t scope_id, const char* what) {
  InetAddress a;
  a.family = family;
  if (bytes.size() != a.addr_len() || port > 65535)
    throw Error(format("its %s address is %zu bytes, port %u: not an %s address", what, bytes.size(), port,
                       family == AF_INET6 ? "IPv6" : "IPv4"));
  memcpy(a.addr, bytes.data(), bytes.size());
  a.port = uint16_t(port);
  a.scope_id = scope_id;
  return a;
}

}  // namespace ckpt::files
