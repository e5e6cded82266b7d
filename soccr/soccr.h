// libsoccr: save and restore the state of one TCP connection with the
// kernel's TCP_REPAIR mode (Linux 4.x and later; CAP_NET_ADMIN in the
// socket's network namespace).
//
// A library of its own: it depends on nothing of ckpt, only on the C++
// standard library and the kernel's socket API.  docs/soccr.md describes it.
//
// Dump:
//     soccr::Repair repair(fd);            // TCP_REPAIR on: the socket is frozen
//     soccr::TcpState st = soccr::save(fd); // sequences, options, window, queues
//     repair.keep();                        // the process is then killed: closing
//                                           // a socket in repair mode sends
//                                           // neither FIN nor RST
// Restore:
//     int fd = socket(st.family, SOCK_STREAM, 0);
//     soccr::restore(fd, st);               // ESTABLISHED again, as it was
//
// The caller must keep the peer's segments away from the host while no socket
// of the connection exists (between the close of the saved one and the end of
// restore()): the kernel would answer them with a reset.  ckpt does that with
// its nftables network lock.
//
// Only ESTABLISHED connections are supported: save() refuses the other states
// by name (the kernel's TCP_REPAIR itself refuses listening sockets).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace soccr {

// Every failure.  what() names the socket operation and the reason, and ends
// with the system's text for the errno when there is one ("setsockopt
// TCP_QUEUE_SEQ (send queue): Operation not permitted"); error() is that errno,
// or 0 when the failure is soccr's own check.
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int err = 0);
  int error() const { return err_; }

 private:
  int err_;
};

// A socket address as getsockname()/getpeername() give it.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  // "127.0.0.1:5000", "[::1]:5000", "[fe80::1%2]:5000"; "?" when empty or of
  // another family.
  std::string text() const;
};

// Everything restore() needs to recreate the connection.
struct TcpState {
  int family = 0;  // AF_INET, AF_INET6
  Endpoint local, remote;
  int state = 0;  // TCP_ESTABLISHED: the only state save() accepts
  // TCP_QUEUE_SEQ: send_seq is the sequence number after the last byte the
  // process wrote (the end of `unsent`), recv_seq the one after the last byte
  // received (the end of `received`).
  uint32_t send_seq = 0, recv_seq = 0;
  uint32_t mss = 0;        // TCP_MAXSEG in repair mode: the MSS clamp
  uint32_t timestamp = 0;  // TCP_TIMESTAMP: the connection's timestamp clock now
  // Negotiated at the handshake (TCP_INFO's tcpi_options).
  bool sack = false, timestamps = false, window_scaling = false;
  uint8_t snd_wscale = 0, rcv_wscale = 0;  // meaningful with window_scaling
  // TCP_REPAIR_WINDOW (false if the kernel has no such option: the windows are
  // then recomputed by the kernel after restore).
  bool has_window = false;
  uint32_t snd_wl1 = 0, snd_wnd = 0, max_window = 0, rcv_wnd = 0, rcv_wup = 0;
  std::string sent;      // sent, not acknowledged yet (the head of the send queue)
  std::string unsent;    // written by the process, not sent yet (its tail)
  std::string received;  // received, not read yet by the process
};

// TCP_REPAIR on for the object's lifetime.  Leaving repair mode resets the
// socket's SO_REUSEADDR in the kernel, so the value it had is put back.
class Repair {
 public:
  // Throws Error: "... needs CAP_NET_ADMIN to repair TCP connections" for
  // EPERM, "... cannot repair a listening socket", or the errno's text.
  explicit Repair(int sock);
  ~Repair();  // repair off (errors ignored), unless keep() or off() was called
  // Leave the socket in repair mode: for a socket about to be closed (a dump
  // whose tree is then killed), as closing it in repair mode sends neither FIN
  // nor RST.
  void keep();
  // Repair off now (with a window probe to the peer), throwing Error on
  // failure; the destructor then does nothing.
  void off();
  Repair(Repair&& other) noexcept;
  Repair& operator=(Repair&& other) noexcept;
  Repair(const Repair&) = delete;
  Repair& operator=(const Repair&) = delete;

 private:
  void release() noexcept;
  int sock_ = -1;
  bool reuse_addr_ = false;
};

// Reads the state of a socket in repair mode (see Repair): addresses,
// sequences, options, window, and the queues by peeking (nothing is consumed:
// the socket may go on after repair off, as with --leave-running).  Throws
// Error if the socket is not in repair mode, not ESTABLISHED, or if a queue
// changed while it was read (segments arriving: the network is not locked).
TcpState save(int sock);

// sock: a fresh socket(st.family, SOCK_STREAM) (the caller may have set
// SO_REUSEADDR, a bound device, ... before).  restore() enters repair mode,
// binds st.local, sets the sequences, connects to st.remote (no SYN is sent in
// repair mode), sets the options and timestamp, fills the receive queue,
// sets the window, has the kernel compute the segment size again (it sets
// the socket's IP options or IPv6 headers to what they are: docs/soccr.md),
// fills the send queue, leaves repair mode and writes `unsent` the ordinary
// way: the socket is then ESTABLISHED as it was, with the segment size it
// had.  It raises SO_SNDBUF/SO_RCVBUF where the
// queues need more room than the socket has.  Throws Error; the socket is
// then left in repair mode, and closing it sends nothing to the peer.
void restore(int sock, const TcpState& st);

}  // namespace soccr
