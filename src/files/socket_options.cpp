#include "files/socket_options.h"

#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string>
#include <tuple>

#include "ckpt/error.h"
#include "ckpt/log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace ckpt::files {

namespace {

using Opts = img::SocketOptions;

enum Applies { kAll = 0, kV6 = 1, kTcp = 2, kUdp = 4 };

// One integer option and its field.  SO_SNDBUF and SO_RCVBUF read back
// twice what was set (the kernel adds its overhead): `halve` sets half,
// through the *FORCE variant so that ckpt (root) is not capped by
// net.core.wmem_max where the process was not (it may have been root).
struct IntOption {
  const char* name;
  int level, optname;
  int applies;
  bool (Opts::*has)() const;
  int32_t (Opts::*get)() const;
  void (Opts::*set)(int32_t);
  int force_optname = 0;          // setsockopt name to use instead, if any
  bool halve = false;
};

#define OPT(level, optname, applies, field) \
  IntOption { #optname, level, optname, applies, &Opts::has_##field, &Opts::field, &Opts::set_##field }

// In the order restore sets them: all of them before bind() (SO_REUSE*,
// SO_BINDTODEVICE, IPV6_V6ONLY, IP_FREEBIND and IP_TRANSPARENT must be).
const IntOption kIntOptions[] = {
    OPT(SOL_SOCKET, SO_REUSEADDR, kAll, reuseaddr),
    OPT(SOL_SOCKET, SO_REUSEPORT, kAll, reuseport),
    OPT(SOL_SOCKET, SO_KEEPALIVE, kAll, keepalive),
    OPT(SOL_SOCKET, SO_BROADCAST, kAll, broadcast),
    IntOption{"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, kAll, &Opts::has_sndbuf, &Opts::sndbuf, &Opts::set_sndbuf,
              SO_SNDBUFFORCE, true},
    IntOption{"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, kAll, &Opts::has_rcvbuf, &Opts::rcvbuf, &Opts::set_rcvbuf,
              SO_RCVBUFFORCE, true},
    OPT(SOL_SOCKET, SO_PRIORITY, kAll, priority),
    OPT(SOL_SOCKET, SO_MARK, kAll, mark),
    OPT(SOL_SOCKET, SO_RCVLOWAT, kAll, rcvlowat),
    OPT(SOL_SOCKET, SO_OOBINLINE, kAll, oobinline),
    OPT(SOL_SOCKET, SO_DONTROUTE, kAll, dontroute),
    OPT(SOL_SOCKET, SO_TIMESTAMP, kAll, timestamp),
    OPT(SOL_SOCKET, SO_PASSCRED, kAll, passcred),
    OPT(IPPROTO_IP, IP_TOS, kAll, ip_tos),
    OPT(IPPROTO_IP, IP_TTL, kAll, ip_ttl),
    OPT(IPPROTO_IP, IP_FREEBIND, kAll, ip_freebind),
    OPT(IPPROTO_IP, IP_TRANSPARENT, kAll, ip_transparent),
    OPT(IPPROTO_IP, IP_RECVERR, kAll, ip_recverr),
    OPT(IPPROTO_IP, IP_PKTINFO, kAll, ip_pktinfo),
    OPT(IPPROTO_IP, IP_MTU_DISCOVER, kAll, ip_mtu_discover),
    // The kernel refuses the multicast hop limits on stream sockets (and
    // an accepted TCP socket reads its SYN's TTL there): UDP only.
    OPT(IPPROTO_IP, IP_MULTICAST_TTL, kUdp, ip_multicast_ttl),
    OPT(IPPROTO_IP, IP_MULTICAST_LOOP, kAll, ip_multicast_loop),
    OPT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, kAll, ip_bind_address_no_port),
    OPT(IPPROTO_IP, IP_RECVTOS, kAll, ip_recvtos),
    OPT(IPPROTO_IP, IP_RECVTTL, kAll, ip_recvttl),
    OPT(IPPROTO_IPV6, IPV6_V6ONLY, kV6, ipv6_v6only),
    OPT(IPPROTO_IPV6, IPV6_TCLASS, kV6, ipv6_tclass),
    OPT(IPPROTO_IPV6, IPV6_UNICAST_HOPS, kV6, ipv6_unicast_hops),
    OPT(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kV6 | kUdp, ipv6_multicast_hops),
    OPT(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, kV6, ipv6_multicast_loop),
    OPT(IPPROTO_IPV6, IPV6_RECVPKTINFO, kV6, ipv6_recvpktinfo),
    OPT(IPPROTO_IPV6, IPV6_RECVERR, kV6, ipv6_recverr),
    OPT(IPPROTO_IPV6, IPV6_MTU_DISCOVER, kV6, ipv6_mtu_discover),
    OPT(IPPROTO_IPV6, IPV6_FREEBIND, kV6, ipv6_freebind),
    OPT(IPPROTO_IPV6, IPV6_TRANSPARENT, kV6, ipv6_transparent),
    OPT(IPPROTO_IPV6, IPV6_RECVTCLASS, kV6, ipv6_recvtclass),
    OPT(IPPROTO_TCP, TCP_NODELAY, kTcp, tcp_nodelay),
    OPT(IPPROTO_TCP, TCP_KEEPIDLE, kTcp, tcp_keepidle),
    OPT(IPPROTO_TCP, TCP_KEEPINTVL, kTcp, tcp_keepintvl),
    OPT(IPPROTO_TCP, TCP_KEEPCNT, kTcp, tcp_keepcnt),
    OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT, kTcp, tcp_defer_accept),
    OPT(IPPROTO_TCP, TCP_USER_TIMEOUT, kTcp, tcp_user_timeout),
    OPT(IPPROTO_TCP, TCP_FASTOPEN, kTcp, tcp_fastopen),
    OPT(IPPROTO_TCP, TCP_NOTSENT_LOWAT, kTcp, tcp_notsent_lowat),
    OPT(IPPROTO_TCP, TCP_SYNCNT, kTcp, tcp_syncnt),
    OPT(IPPROTO_TCP, TCP_MAXSEG, kTcp, tcp_maxseg),
    OPT(IPPROTO_TCP, TCP_CORK, kTcp, tcp_cork),
    OPT(IPPROTO_UDP, UDP_CORK, kUdp, udp_cork),
    OPT(IPPROTO_UDP, UDP_SEGMENT, kUdp, udp_segment),
    OPT(IPPROTO_UDP, UDP_GRO, kUdp, udp_gro),
};

#undef OPT

bool applies(const IntOption& o, int family, int protocol) {
  if ((o.applies & kV6) && family != AF_INET6) return false;
  if ((o.applies & kTcp) && protocol != IPPROTO_TCP) return false;
  if ((o.applies & kUdp) && protocol != IPPROTO_UDP) return false;
  return true;
}

bool get_int(int fd, int level, int optname, int* value) {
  socklen_t len = sizeof(*value);
  return getsockopt(fd, level, optname, value, &len) == 0;
}

bool get_string(int fd, int level, int optname, std::string* value) {
  char buf[64] = {};
  socklen_t len = sizeof(buf) - 1;
  if (getsockopt(fd, level, optname, buf, &len) != 0) return false;
  *value = std::string(buf, strnlen(buf, len));
  return true;
}

uint64_t usec_of(const timeval& tv) { return uint64_t(tv.tv_sec) * 1000000 + uint64_t(tv.tv_usec); }

bool get_timeout(int fd, int optname, uint64_t* usec) {
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (getsockopt(fd, SOL_SOCKET, optname, &tv, &len) != 0) return false;
  *usec = usec_of(tv);
  return true;
}

// The family and protocol of the socket being restored.
int domain_of(int fd) {
  int v = 0;
  get_int(fd, SOL_SOCKET, SO_DOMAIN, &v);
  return v;
}
int protocol_of(int fd) {
  int v = 0;
  get_int(fd, SOL_SOCKET, SO_PROTOCOL, &v);
  return v;
}

void set_or_throw(int fd, int level, int optname, const void* value, socklen_t len, const char* name) {
  if (setsockopt(fd, level, optname, value, len) != 0) throw sys_error(format("cannot set %s", name));
}

void apply_int(int fd, const IntOption& o, int32_t want, const char* what) {
  int now = 0;
  if (get_int(fd, o.level, o.optname, &now) && now == want) return;
  int value = o.halve ? want / 2 : want;
  int optname = o.force_optname ? o.force_optname : o.optname;
  if (setsockopt(fd, o.level, optname, &value, sizeof(value)) != 0)
    throw sys_error(format("cannot set %s to %d", o.name, value));
  if (get_int(fd, o.level, o.optname, &now) && now != want)
    LOG_WARN("%s: %s reads %d after the restore, %d at dump", what, o.name, now, want);
}

void apply_strings(int fd, const Opts& opts) {
  std::string now;
  if (opts.has_bindtodevice() && get_string(fd, SOL_SOCKET, SO_BINDTODEVICE, &now) && now != opts.bindtodevice()) {
    const std::string& dev = opts.bindtodevice();
    if (!dev.empty() && if_nametoindex(dev.c_str()) == 0)
      throw Error(format("it was bound to device %s (SO_BINDTODEVICE), which does not exist here", dev.c_str()));
    set_or_throw(fd, SOL_SOCKET, SO_BINDTODEVICE, dev.c_str(), socklen_t(dev.size()), "SO_BINDTODEVICE");
  }
  if (opts.has_tcp_congestion() && get_string(fd, IPPROTO_TCP, TCP_CONGESTION, &now) &&
      now != opts.tcp_congestion()) {
    const std::string& cc = opts.tcp_congestion();
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc.c_str(), socklen_t(cc.size())) != 0)
      throw sys_error(format("cannot set its congestion control %s (TCP_CONGESTION)", cc.c_str()));
  }
}

void apply_linger_and_timeouts(int fd, const Opts& opts) {
  if (opts.has_linger_onoff()) {
    linger now{};
    socklen_t len = sizeof(now);
    getsockopt(fd, SOL_SOCKET, SO_LINGER, &now, &len);
    if (now.l_onoff != opts.linger_onoff() || now.l_linger != opts.linger_secs()) {
      linger l{opts.linger_onoff(), opts.linger_secs()};
      set_or_throw(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l), "SO_LINGER");
    }
  }
  for (auto [optname, has, usec, name] :
       {std::tuple{SO_RCVTIMEO, opts.has_rcvtimeo_usec(), opts.rcvtimeo_usec(), "SO_RCVTIMEO"},
        std::tuple{SO_SNDTIMEO, opts.has_sndtimeo_usec(), opts.sndtimeo_usec(), "SO_SNDTIMEO"}}) {
    uint64_t now = 0;
    if (!has || (get_timeout(fd, optname, &now) && now == usec)) continue;
    timeval tv{time_t(usec / 1000000), suseconds_t(usec % 1000000)};
    set_or_throw(fd, SOL_SOCKET, optname, &tv, sizeof(tv), name);
  }
}

}  // namespace

img::SocketOptions read_socket_options(int fd, int family, int protocol) {
  Opts opts;
  for (const IntOption& o : kIntOptions) {
    if (!applies(o, family, protocol)) continue;
    int v = 0;
    if (get_int(fd, o.level, o.optname, &v)) (opts.*o.set)(v);
  }
  linger l{};
  socklen_t len = sizeof(l);
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0) {
    opts.set_linger_onoff(l.l_onoff);
    opts.set_linger_secs(l.l_linger);
  }
  uint64_t usec = 0;
  if (get_timeout(fd, SO_RCVTIMEO, &usec)) opts.set_rcvtimeo_usec(usec);
  if (get_timeout(fd, SO_SNDTIMEO, &usec)) opts.set_sndtimeo_usec(usec);
  std::string s;
  if (get_string(fd, SOL_SOCKET, SO_BINDTODEVICE, &s)) opts.set_bindtodevice(s);
  if (protocol == IPPROTO_TCP && get_string(fd, IPPROTO_TCP, TCP_CONGESTION, &s)) opts.set_tcp_congestion(s);
  int off = -1;
  if (get_int(fd, SOL_SOCKET, SO_PEEK_OFF, &off)) opts.set_peek_off(off);
  return opts;
}

void apply_socket_options(int fd, const img::SocketOptions& opts, const char* what) {
  int family = domain_of(fd), protocol = protocol_of(fd);
  // The device first: IP options may depend on the route it gives.
  apply_strings(fd, opts);
  for (const IntOption& o : kIntOptions)
    if (applies(o, family, protocol) && (opts.*o.has)()) apply_int(fd, o, (opts.*o.get)(), what);
  apply_linger_and_timeouts(fd, opts);
}

void apply_peek_offset(int fd, const img::SocketOptions& opts) {
  if (!opts.has_peek_off() || opts.peek_off() < 0) return;
  int off = opts.peek_off();
  set_or_throw(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off), "SO_PEEK_OFF");
}

}  // namespace ckpt::files
