// Error, Endpoint, Repair and the socket-option helpers.
#include "soccr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "internal.h"

namespace soccr {
namespace {

std::string with_errno(const std::string& what, int err) { return err == 0 ? what : what + ": " + std::strerror(err); }

}  // namespace

Error::Error(const std::string& what, int err) : std::runtime_error(with_errno(what, err)), err_(err) {}

std::string Endpoint::text() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    std::string scope = in6->sin6_scope_id ? "%" + std::to_string(in6->sin6_scope_id) : "";
    return "[" + std::string(host) + scope + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

namespace detail {

void set_raw(int sock, int level, int opt, const void* value, socklen_t len, const char* name) {
  if (setsockopt(sock, level, opt, value, len) != 0) throw Error(std::string("setsockopt ") + name, errno);
}

void get_raw(int sock, int level, int opt, void* value, socklen_t len, const char* name) {
  socklen_t got = len;
  if (getsockopt(sock, level, opt, value, &got) != 0) throw Error(std::string("getsockopt ") + name, errno);
}

void get_raw_len(int sock, int level, int opt, void* value, socklen_t* len, const char* name) {
  if (getsockopt(sock, level, opt, value, len) != 0) throw Error(std::string("getsockopt ") + name, errno);
}

void set_int(int sock, int level, int opt, int value, const char* name) {
  set_raw(sock, level, opt, &value, sizeof(value), name);
}

int get_int(int sock, int level, int opt, const char* name) {
  int value = 0;
  get_raw(sock, level, opt, &value, sizeof(value), name);
  return value;
}

void select_queue(int sock, int queue) {
  if (setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) == 0) return;
  int err = errno;
  // The kernel refuses TCP_REPAIR_QUEUE with EPERM outside repair mode: the
  // usual mistake of a caller, so it gets its own words.
  if (err == EPERM) throw Error("setsockopt TCP_REPAIR_QUEUE: the socket is not in repair mode (TCP_REPAIR)", err);
  throw Error("setsockopt TCP_REPAIR_QUEUE", err);
}

std::string state_name(int state) {
  static const char* const names[] = {"?",         "ESTABLISHED", "SYN_SENT",    "SYN_RECV",   "FIN_WAIT1",
                                      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",       "CLOSE_WAIT", "LAST_ACK",
                                      "LISTEN",    "CLOSING",     "NEW_SYN_RECV"};
  if (state > 0 && state < static_cast<int>(sizeof(names) / sizeof(names[0]))) return names[state];
  return "state " + std::to_string(state);
}

int tcp_state(int sock) {
  tcp_info info{};
  get_raw(sock, IPPROTO_TCP, TCP_INFO, &info, sizeof(info), "TCP_INFO");
  return info.tcpi_state;
}

}  // namespace detail

Repair::Repair(int sock) : sock_(sock) {
  // Turning repair off sets the kernel's sk_reuse to "no reuse" whatever the
  // process had asked: remember SO_REUSEADDR to put it back.
  reuse_addr_ = detail::get_int(sock, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR") != 0;
  int on = TCP_REPAIR_ON;
  if (setsockopt(sock, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0) return;
  int err = errno;
  sock_ = -1;
  if (err == EPERM) {
    // The kernel says EPERM both for a missing capability and for a
    // listening socket; tell them apart.
    int state = 0;
    try {
      state = detail::tcp_state(sock);
    } catch (const Error&) {
    }
    if (state == TCP_LISTEN) throw Error("setsockopt TCP_REPAIR: cannot repair a listening socket", err);
    throw Error("setsockopt TCP_REPAIR: needs CAP_NET_ADMIN to repair TCP connections", err);
  }
  throw Error("setsockopt TCP_REPAIR", err);
}

Repair::~Repair() { release(); }

void Repair::keep() { sock_ = -1; }

void Repair::off() {
  int sock = std::exchange(sock_, -1);
  if (sock < 0) return;
  detail::set_int(sock, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR (off)");
  if (reuse_addr_) detail::set_int(sock, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
}

void Repair::release() noexcept {
  try {
    off();
  } catch (const Error&) {
    // A destructor cannot report; off() is there for callers who care.
  }
}

Repair::Repair(Repair&& other) noexcept : sock_(std::exchange(other.sock_, -1)), reuse_addr_(other.reuse_addr_) {}

Repair& Repair::operator=(Repair&& other) noexcept {
  if (this != &other) {
    release();
    sock_ = std::exchange(other.sock_, -1);
    reuse_addr_ = other.reuse_addr_;
  }
  return *this;
}

}  // namespace soccr
