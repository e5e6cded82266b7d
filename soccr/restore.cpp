// restore(): recreates one TCP connection on a fresh socket.
//
// The order is the kernel's: the sequence numbers can only be set while the
// socket is CLOSE, so they come before connect(); the options only once it
// is ESTABLISHED and before any data is queued, so right after connect();
// the window once the receive queue is filled, as the kernel checks it
// against the receive sequence, which only then reaches its saved value;
// then the segment size is computed again (resync_mss() says why), before
// the send queue is filled, so that its segments are cut to that size.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "internal.h"
#include "soccr.h"

namespace soccr {
namespace {

// The most one send() is asked to queue in repair mode: the kernel builds
// one buffer per call for the receive queue (17 pages at most are taken at
// once) and may refuse a large one with ENOMEM; soccr then halves it.
constexpr size_t kMaxChunk = 64 * 1024;
constexpr size_t kMinChunk = 1024;
// Headroom over the queued bytes for the kernel's per-buffer overhead.
constexpr int kBufferSlack = 64 * 1024;
// How long the unsent tail may wait for room in the send buffer.
constexpr int kSendTimeoutMs = 10000;

void check_state(int sock, const TcpState& st) {
  if (st.family != AF_INET && st.family != AF_INET6)
    throw Error("cannot restore a TCP connection of address family " + std::to_string(st.family) +
                ": only AF_INET and AF_INET6");
  if (st.state != TCP_ESTABLISHED)
    throw Error("cannot restore a TCP connection in state " + detail::state_name(st.state) +
                ": only ESTABLISHED connections are supported");
  if (st.local.len == 0 || st.remote.len == 0 || st.local.addr.ss_family != st.family ||
      st.remote.addr.ss_family != st.family)
    throw Error("cannot restore the TCP connection " + st.local.text() + " -> " + st.remote.text() +
                ": its addresses are missing or not of its family");
  int domain = detail::get_int(sock, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
  if (domain != st.family)
    throw Error("cannot restore a TCP connection of family " + std::to_string(st.family) + " on a socket of family " +
                std::to_string(domain));
  int state = detail::tcp_state(sock);
  if (state != TCP_CLOSE)
    throw Error("cannot restore a TCP connection on a socket in state " + detail::state_name(state) +
                ": it needs a fresh socket");
}

// The kernel reports SO_SNDBUF/SO_RCVBUF doubled (its overhead share), and
// counts the queued buffers' full size against it: ask for twice the data.
void make_room(int sock, int opt, int force_opt, size_t bytes, const char* name) {
  if (bytes == 0) return;
  int need = static_cast<int>(std::min<size_t>(bytes * 2 + kBufferSlack, 1u << 30));
  if (detail::get_int(sock, SOL_SOCKET, opt, name) >= need) return;
  detail::set_int(sock, SOL_SOCKET, opt, need, name);
  // Past net.core.[rw]mem_max only the FORCE variant (CAP_NET_ADMIN, which
  // repair needs anyway) goes further.
  if (detail::get_int(sock, SOL_SOCKET, opt, name) < need) detail::set_int(sock, SOL_SOCKET, force_opt, need, name);
}

void set_queue_seq(int sock, int queue, uint32_t seq, const char* name) {
  detail::select_queue(sock, queue);
  detail::set_raw(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq), name);
}

void bind_and_connect(int sock, const TcpState& st) {
  // In repair mode the kernel forces address reuse, so the bind succeeds
  // even while another socket (a listener, the old connection) holds the
  // port; connect() sends no SYN and makes the socket ESTABLISHED at once.
  if (bind(sock, reinterpret_cast<const sockaddr*>(&st.local.addr), st.local.len) != 0)
    throw Error("bind to " + st.local.text(), errno);
  if (connect(sock, reinterpret_cast<const sockaddr*>(&st.remote.addr), st.remote.len) != 0)
    throw Error("connect (repair) to " + st.remote.text(), errno);
}

void set_options(int sock, const TcpState& st) {
  std::vector<tcp_repair_opt> opts;
  opts.push_back({TCPOPT_MAXSEG, st.mss});
  if (st.window_scaling)
    opts.push_back(
        {TCPOPT_WINDOW, static_cast<uint32_t>(st.snd_wscale) | (static_cast<uint32_t>(st.rcv_wscale) << 16)});
  if (st.sack) opts.push_back({TCPOPT_SACK_PERMITTED, 0});
  if (st.timestamps) opts.push_back({TCPOPT_TIMESTAMP, 0});
  detail::set_raw(sock, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts.data(),
                  static_cast<socklen_t>(opts.size() * sizeof(opts[0])), "TCP_REPAIR_OPTIONS");
  detail::set_raw(sock, IPPROTO_TCP, TCP_TIMESTAMP, &st.timestamp, sizeof(st.timestamp), "TCP_TIMESTAMP");
}

// Queues `data` in the queue selected in repair mode: the receive queue's
// bytes become readable, the send queue's count as sent (the kernel marks
// them in flight without transmitting them and retransmits them on its timer
// if the peer does not acknowledge them).
void fill_queue(int sock, int queue, const std::string& data, const char* name) {
  if (data.empty()) return;
  detail::select_queue(sock, queue);
  size_t chunk = kMaxChunk;
  for (size_t off = 0; off < data.size();) {
    size_t len = std::min(chunk, data.size() - off);
    ssize_t n = send(sock, data.data() + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == ENOMEM && chunk > kMinChunk) {
      chunk /= 2;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error("send (repair) of the " + std::string(name) + " at byte " + std::to_string(off) + " of " +
                      std::to_string(data.size()),
                  n < 0 ? errno : 0);
    off += static_cast<size_t>(n);
  }
}

void set_window(int sock, const TcpState& st) {
  if (!st.has_window) return;
  tcp_repair_window w{};
  w.snd_wl1 = st.snd_wl1;
  w.snd_wnd = st.snd_wnd;
  w.max_window = st.max_window;
  w.rcv_wnd = st.rcv_wnd;
  w.rcv_wup = st.rcv_wup;
  detail::set_raw(sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w), "TCP_REPAIR_WINDOW");
}

// The kernel computes a connection's segment size (mss_cache, TCP_INFO's
// tcpi_snd_mss) from the path MTU, the MSS clamp and half the largest window
// the peer offered.  The repair connect() computes it before the clamp and
// the window are set (from a clamp of 536 and no window: 524 bytes with
// timestamps), and neither TCP_REPAIR_OPTIONS nor TCP_REPAIR_WINDOW computes
// it again; the kernel would only do so when the path MTU changes or the
// peer's window grows past the saved max_window, so the connection would go
// on in 524-byte segments.  TCP_MAXSEG before connect() cannot stand in:
// the kernel takes at most 32767 there (not lo's 65483), and at connect()
// there is no window yet to bound it by, so a peer whose window is smaller
// than the MSS would get nothing but zero-window probes.  Setting the IP
// options makes the kernel compute it again (tcp_sync_mss, as on a path MTU
// change), from the restored clamp and window: they are set to what they
// already are (none, for a socket fresh from socket()).
bool v4_mapped(const TcpState& st) {
  if (st.family != AF_INET6) return false;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&st.remote.addr);
  return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
}

void resync_mss_ipv4(int sock) {
  unsigned char opts[40];  // the most IPv4 options there can be
  socklen_t len = sizeof(opts);
  detail::get_raw_len(sock, IPPROTO_IP, IP_OPTIONS, opts, &len, "IP_OPTIONS");
  detail::set_raw(sock, IPPROTO_IP, IP_OPTIONS, opts, len, "IP_OPTIONS (to compute the MSS again)");
}

// IPv6: the kernel computes the MSS again when the socket's extension
// headers are replaced (while connected).  A sticky header the caller set is
// set again as it is; without one, IPV6_2292PKTOPTIONS with a lone
// "default hop limit" gives the socket an empty set of headers, which
// changes nothing in what it sends.
void resync_mss_ipv6(int sock) {
  static const struct {
    int opt;
    const char* name;
  } sticky[] = {{IPV6_HOPOPTS, "IPV6_HOPOPTS"},
                {IPV6_RTHDRDSTOPTS, "IPV6_RTHDRDSTOPTS"},
                {IPV6_RTHDR, "IPV6_RTHDR"},
                {IPV6_DSTOPTS, "IPV6_DSTOPTS"}};
  for (const auto& h : sticky) {
    std::vector<unsigned char> hdr(8 * 256);  // the largest a header can be
    socklen_t len = static_cast<socklen_t>(hdr.size());
    detail::get_raw_len(sock, IPPROTO_IPV6, h.opt, hdr.data(), &len, h.name);
    if (len == 0) continue;
    detail::set_raw(sock, IPPROTO_IPV6, h.opt, hdr.data(), len,
                    (std::string(h.name) + " (to compute the MSS again)").c_str());
    return;
  }
  alignas(cmsghdr) unsigned char buf[CMSG_SPACE(sizeof(int))] = {};
  auto* c = reinterpret_cast<cmsghdr*>(buf);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_HOPLIMIT;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int default_hops = -1;
  std::memcpy(CMSG_DATA(c), &default_hops, sizeof(default_hops));
  detail::set_raw(sock, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, buf, sizeof(buf),
                  "IPV6_2292PKTOPTIONS (to compute the MSS again)");
}

void resync_mss(int sock, const TcpState& st) {
  // Without the saved window (kernels before 4.8) max_window is still 0 and
  // the kernel would not bound the MSS by it: a small-window peer would then
  // stall, so the 524 bytes of connect() stay.
  if (!st.has_window) return;
  if (st.family == AF_INET || v4_mapped(st))
    resync_mss_ipv4(sock);
  else
    resync_mss_ipv6(sock);
}

// The unsent tail, written the ordinary way once repair is off, so that the
// kernel sends it as the window allows.  The send buffer was sized for it,
// so this only waits if the caller's socket is slow to drain.
void send_unsent(int sock, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = send(sock, data.data() + off, data.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p = {sock, POLLOUT, 0};
      int r = poll(&p, 1, kSendTimeoutMs);
      if (r > 0 || (r < 0 && errno == EINTR)) continue;
      if (r == 0)
        throw Error("send of the unsent data: no room in the send buffer within " +
                    std::to_string(kSendTimeoutMs / 1000) + " s at byte " + std::to_string(off) + " of " +
                    std::to_string(data.size()));
    }
    throw Error("send of the unsent data at byte " + std::to_string(off) + " of " + std::to_string(data.size()),
                n < 0 ? errno : 0);
  }
}

// Every repair-mode step, in the kernel's order (see the top of this file).
void restore_repaired(int sock, const TcpState& st) {
  make_room(sock, SO_SNDBUF, SO_SNDBUFFORCE, st.sent.size() + st.unsent.size(), "SO_SNDBUF");
  make_room(sock, SO_RCVBUF, SO_RCVBUFFORCE, st.received.size(), "SO_RCVBUF");
  // The queues start this far before the saved sequences: filling them
  // brings the sequences to their saved values, except the unsent tail,
  // which the ordinary send() after repair adds.
  set_queue_seq(sock, TCP_SEND_QUEUE, st.send_seq - static_cast<uint32_t>(st.sent.size() + st.unsent.size()),
                "TCP_QUEUE_SEQ (send queue)");
  set_queue_seq(sock, TCP_RECV_QUEUE, st.recv_seq - static_cast<uint32_t>(st.received.size()),
                "TCP_QUEUE_SEQ (receive queue)");
  bind_and_connect(sock, st);
  set_options(sock, st);
  fill_queue(sock, TCP_RECV_QUEUE, st.received, "receive queue");
  set_window(sock, st);
  resync_mss(sock, st);
  fill_queue(sock, TCP_SEND_QUEUE, st.sent, "send queue");
  detail::select_queue(sock, TCP_NO_QUEUE);
}

}  // namespace

void restore(int sock, const TcpState& st) {
  check_state(sock, st);
  Repair repair(sock);
  try {
    restore_repaired(sock, st);
  } catch (...) {
    // The socket stays in repair mode: the caller's close then sends nothing
    // to the peer, whose connection survives for another try.
    repair.keep();
    throw;
  }
  // Repair off sends a window probe: the peer answers with its window and
  // acknowledgment, and the connection resumes.
  repair.off();
  send_unsent(sock, st.unsent);
}

}  // namespace soccr
