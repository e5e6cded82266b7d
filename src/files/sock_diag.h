// The kernel's socket diagnostics (NETLINK_SOCK_DIAG), for any family:
// the unix module asks it for peers, names, queues and listening queues, the
// inet module for its sockets.  Only ckpt's own network namespace is asked
// (the dump refuses trees in another one, src/dump/namespaces.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

namespace ckpt::files::sockdiag {

// One socket as the kernel reports it: the family's fixed reply header
// (unix_diag_msg, inet_diag_msg) and its attributes by type.
struct Record {
  std::vector<uint8_t> header;
  std::map<int, std::vector<uint8_t>> attrs;

  bool has(int type) const { return attrs.count(type) != 0; }
  // The payload of attribute `type` as a T, or nullopt if it is missing or
  // shorter than a T (a kernel that does not report it).
  template <class T>
  std::optional<T> get(int type) const {
    auto it = attrs.find(type);
    if (it == attrs.end() || it->second.size() < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, it->second.data(), sizeof(T));
    return v;
  }
  // The header as the family's reply struct; throws if it is too short.
  template <class T>
  T head() const {
    T v{};
    if (header.size() < sizeof(T)) throw_short_header();
    std::memcpy(&v, header.data(), sizeof(T));
    return v;
  }

 private:
  [[noreturn]] static void throw_short_header();
};

// Sends `request` (the family's request: unix_diag_req, inet_diag_req_v2),
// as SOCK_DIAG_BY_FAMILY, a dump of every match when `dump` is set, else a
// query of one socket, and returns every reply.  Replies are parsed as a
// `header_len`-byte header then attributes up to `max_attr`.  A query of a
// socket that does not exist returns no record.  Throws Error otherwise.
std::vector<Record> query(const void* request, size_t request_len, bool dump, size_t header_len, int max_attr);

}  // namespace ckpt::files::sockdiag
