// save(): reads one repaired TCP socket's state.
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "internal.h"
#include "soccr.h"

namespace soccr {
namespace {

Endpoint address_of(int sock, bool peer) {
  Endpoint ep;
  ep.len = sizeof(ep.addr);
  sockaddr* sa = reinterpret_cast<sockaddr*>(&ep.addr);
  if ((peer ? getpeername(sock, sa, &ep.len) : getsockname(sock, sa, &ep.len)) != 0)
    throw Error(peer ? "getpeername" : "getsockname", errno);
  return ep;
}

uint32_t queue_seq(int sock, int queue, const char* name) {
  detail::select_queue(sock, queue);
  uint32_t seq = 0;
  detail::get_raw(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq), name);
  return seq;
}

int queued_bytes(int sock, unsigned long request, const char* name) {
  int bytes = 0;
  if (ioctl(sock, request, &bytes) != 0) throw Error(std::string("ioctl ") + name, errno);
  return bytes;
}

// The whole of one queue, peeked: in repair mode recv(MSG_PEEK) reads the
// queue TCP_REPAIR_QUEUE selected, the send queue included, from its head.
std::string peek_queue(int sock, int queue, size_t size, const char* name) {
  if (size == 0) return {};
  detail::select_queue(sock, queue);
  // One byte more than expected: a queue that grew shows as a longer read.
  std::string data(size + 1, '\0');
  ssize_t got = recv(sock, data.data(), data.size(), MSG_PEEK | MSG_DONTWAIT);
  if (got < 0) throw Error(std::string("recv MSG_PEEK of the ") + name, errno);
  if (static_cast<size_t>(got) != size)
    throw Error(std::string("the ") + name + " changed while it was saved (" + std::to_string(size) + " bytes, then " +
                std::to_string(got) + "): segments still arrive, is the network locked?");
  data.resize(size);
  return data;
}

void save_options(int sock, TcpState& st) {
  tcp_info info{};
  detail::get_raw(sock, IPPROTO_TCP, TCP_INFO, &info, sizeof(info), "TCP_INFO");
  st.state = info.tcpi_state;
  st.sack = info.tcpi_options & TCPI_OPT_SACK;
  st.timestamps = info.tcpi_options & TCPI_OPT_TIMESTAMPS;
  st.window_scaling = info.tcpi_options & TCPI_OPT_WSCALE;
  if (st.window_scaling) {
    st.snd_wscale = info.tcpi_snd_wscale;
    st.rcv_wscale = info.tcpi_rcv_wscale;
  }
  // In repair mode TCP_MAXSEG reports the MSS clamp (what the peer
  // announced), the value TCP_REPAIR_OPTIONS takes back.
  st.mss = static_cast<uint32_t>(detail::get_int(sock, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG"));
  st.timestamp = static_cast<uint32_t>(detail::get_int(sock, IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP"));
}

void save_window(int sock, TcpState& st) {
  tcp_repair_window w{};
  socklen_t len = sizeof(w);
  if (getsockopt(sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) != 0) {
    if (errno == ENOPROTOOPT) return;  // before Linux 4.8: the kernel recomputes them
    throw Error("getsockopt TCP_REPAIR_WINDOW", errno);
  }
  st.has_window = true;
  st.snd_wl1 = w.snd_wl1;
  st.snd_wnd = w.snd_wnd;
  st.max_window = w.max_window;
  st.rcv_wnd = w.rcv_wnd;
  st.rcv_wup = w.rcv_wup;
}

void save_queues(int sock, TcpState& st) {
  // SIOCOUTQ counts from the oldest unacknowledged byte, SIOCOUTQNSD from
  // the first byte not sent yet: the difference is what is in flight.
  int outq = queued_bytes(sock, SIOCOUTQ, "SIOCOUTQ");
  int unsent = queued_bytes(sock, SIOCOUTQNSD, "SIOCOUTQNSD");
  int inq = queued_bytes(sock, SIOCINQ, "SIOCINQ");
  if (unsent > outq) throw Error("SIOCOUTQNSD is larger than SIOCOUTQ: the send queue changed while it was saved");
  std::string send_queue = peek_queue(sock, TCP_SEND_QUEUE, static_cast<size_t>(outq), "send queue");
  st.sent = send_queue.substr(0, static_cast<size_t>(outq - unsent));
  st.unsent = send_queue.substr(static_cast<size_t>(outq - unsent));
  st.received = peek_queue(sock, TCP_RECV_QUEUE, static_cast<size_t>(inq), "receive queue");
  detail::select_queue(sock, TCP_NO_QUEUE);
}

}  // namespace

TcpState save(int sock) {
  TcpState st;
  // First a check that the socket is in repair mode, so that the caller who
  // forgot gets that, not some option's error.
  detail::select_queue(sock, TCP_NO_QUEUE);
  st.family = detail::get_int(sock, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
  if (st.family != AF_INET && st.family != AF_INET6)
    throw Error("cannot save a socket of address family " + std::to_string(st.family) + ": not TCP over IPv4/IPv6");
  save_options(sock, st);
  if (st.state != TCP_ESTABLISHED)
    throw Error("cannot save a TCP connection in state " + detail::state_name(st.state) +
                ": only ESTABLISHED connections are supported");
  st.local = address_of(sock, false);
  st.remote = address_of(sock, true);
  st.send_seq = queue_seq(sock, TCP_SEND_QUEUE, "TCP_QUEUE_SEQ (send queue)");
  st.recv_seq = queue_seq(sock, TCP_RECV_QUEUE, "TCP_QUEUE_SEQ (receive queue)");
  save_window(sock, st);
  save_queues(sock, st);
  return st;
}

}  // namespace soccr
