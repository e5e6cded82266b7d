// What the established-TCP round trips share (tcp_*.cpp): the program in the
// dumped tree and its peer outside it (tcp_peer.cpp) exchange counting
// patterns, so that any byte lost, doubled or reordered across a dump and
// a restore is seen at its offset.
//
// Each connection carries two streams: A from the outside peer to the tree,
// B from the tree to the peer.  Before the dump each side writes
// kQueued bytes and neither reads them, so that they sit in the queues at
// dump time (the peer's small receive buffer keeps most of B in the tree
// process's send queue, part of it sent and not acknowledged).  After the
// final restore the tree side reads A and writes kMore bytes more of B,
// then shuts its side down; the peer starts writing the rest of A only once
// it has read past kQueued bytes of B (only a restored process that talks
// again sends them), and shuts down after kQueued + kMore.  Each side
// checks that the other's stream ends at exactly kQueued + kMore.
#pragma once

#include "inetlib.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <string>
#include <vector>

namespace rt::tcp {

inline constexpr size_t kQueued = 100 * 1024;  // written before the dump, unread
inline constexpr size_t kMore = 1024 * 1024;   // written after the restore
inline constexpr size_t kTotal = kQueued + kMore;
inline constexpr uint32_t kSeedA = 0xa5a50000u, kSeedB = 0x5b5b0000u;

// Byte `off` of a stream: the 32-bit word off/4, xor the stream's seed, in
// little-endian order.  A loss of any length shows: a multiple of 4 bytes
// shifts the counter, any other length the byte order.
inline uint8_t pattern(uint32_t seed, size_t off) {
  uint32_t word = uint32_t(off / 4) ^ seed;
  return uint8_t(word >> (8 * (off % 4)));
}

inline void fill(uint32_t seed, size_t off, char* buf, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = char(pattern(seed, off + i));
}

// The first offset in buf[0..n) (stream offset `off`) that is not the
// pattern, or SIZE_MAX.
inline size_t mismatch(uint32_t seed, size_t off, const char* buf, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (uint8_t(buf[i]) != pattern(seed, off + i)) return off + i;
  return SIZE_MAX;
}

// "ADDR" of "ADDR PORT" texts; the family from the address.
inline int family_of(const std::string& addr) { return addr.find(':') == std::string::npos ? AF_INET : AF_INET6; }

inline void set_nonblock(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  RT_CHECK(flags >= 0 && fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0, "fcntl fd %d", fd);
}

inline int queued_in(int fd) {
  int n = -1;
  RT_CHECK(ioctl(fd, SIOCINQ, &n) == 0, "SIOCINQ fd %d: %s", fd, strerror(errno));
  return n;
}

inline int queued_out(int fd) {
  int n = -1;
  RT_CHECK(ioctl(fd, SIOCOUTQ, &n) == 0, "SIOCOUTQ fd %d: %s", fd, strerror(errno));
  return n;
}

// Writes stream bytes [from, to) on a blocking socket (send buffer large
// enough that this returns although nobody reads).
inline void write_stream(int fd, uint32_t seed, size_t from, size_t to) {
  std::vector<char> buf(to - from);
  fill(seed, from, buf.data(), buf.size());
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = send(fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
    RT_CHECK(n > 0 || errno == EINTR, "write of stream bytes %zu..%zu on fd %d: %s", from, to, fd, strerror(errno));
    if (n > 0) done += size_t(n);
  }
}

// Waits up to `seconds` for fd to be readable.
inline bool readable_within(int fd, double seconds) {
  double deadline = now_seconds() + seconds;
  for (;;) {
    double left = deadline - now_seconds();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(left * 1000) + 1);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) fail("poll fd %d: %s", fd, strerror(errno));
  }
}

// One direction of one connection as a poll loop sees it: what we write
// (out, from `sent` to `out_end`, then a shutdown) and what we read (in,
// checked against its pattern until EOF).
struct Stream {
  int fd = -1;
  std::string name;         // "connection 1", for messages
  uint32_t out_seed = 0, in_seed = 0;
  size_t sent = 0, out_end = 0;  // out_end 0: nothing more to write yet
  bool shut = false;
  size_t got = 0;
  bool eof = false;
  std::string error;        // the first thing that went wrong

  bool done() const { return eof && shut; }
};

// Moves every stream on until each has read EOF and written its end, or
// `seconds` pass; returns false with s.error set on the first problem.
// `on_read` is called after each read (the peer starts writing from there).
template <typename OnRead>
inline bool pump(std::vector<Stream*> streams, double seconds, OnRead on_read) {
  double deadline = now_seconds() + seconds;
  static char buf[64 * 1024];
  for (Stream* s : streams) set_nonblock(s->fd, true);
  for (;;) {
    bool all = true;
    std::vector<pollfd> fds;
    for (Stream* s : streams) {
      if (!s->error.empty()) return false;
      all = all && s->done();
      short ev = 0;
      if (!s->eof) ev |= POLLIN;
      if (!s->shut && s->out_end > 0) ev |= POLLOUT;
      fds.push_back({s->fd, ev, 0});
    }
    if (all) return true;
    double left = deadline - now_seconds();
    if (left <= 0) {
      for (Stream* s : streams)
        if (!s->done())
          s->error = s->name + ": stalled, read " + std::to_string(s->got) + " bytes" + (s->eof ? " and EOF" : "") +
                     ", wrote " + std::to_string(s->sent) + (s->shut ? " and shut down" : "") + " within " +
                     std::to_string(int(seconds)) + " s";
      return false;
    }
    int r = poll(fds.data(), fds.size(), int(left * 1000) + 1);
    if (r < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
    for (size_t i = 0; i < streams.size(); i++) {
      Stream& s = *streams[i];
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
        ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
        if (n > 0) {
          size_t bad = mismatch(s.in_seed, s.got, buf, size_t(n));
          if (bad != SIZE_MAX) {
            s.error = s.name + ": byte " + std::to_string(bad) + " read is not the pattern";
            return false;
          }
          s.got += size_t(n);
          on_read(s);
        } else if (n == 0) {
          s.eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          s.error = s.name + ": read after " + std::to_string(s.got) + " bytes: " + strerror(errno);
          return false;
        }
      }
      if (!s.shut && s.out_end > 0 && (fds[i].revents & POLLOUT)) {
        if (s.sent < s.out_end) {
          size_t want = std::min(sizeof(buf), s.out_end - s.sent);
          fill(s.out_seed, s.sent, buf, want);
          ssize_t n = send(s.fd, buf, want, MSG_NOSIGNAL);
          if (n > 0) s.sent += size_t(n);
          else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            s.error = s.name + ": write after " + std::to_string(s.sent) + " bytes: " + strerror(errno);
            return false;
          }
        }
        if (s.sent == s.out_end) {
          if (shutdown(s.fd, SHUT_WR) != 0) {
            s.error = s.name + ": shutdown: " + strerror(errno);
            return false;
          }
          s.shut = true;
        }
      }
    }
  }
}

// One stream per connection, kQueued bytes of its own pattern already
// written on each.
inline std::vector<Stream> streams_of(const std::vector<int>& fds, uint32_t out_seed, uint32_t in_seed) {
  std::vector<Stream> streams(fds.size());
  for (size_t i = 0; i < fds.size(); i++) {
    Stream& s = streams[i];
    s.fd = fds[i];
    s.name = "connection " + std::to_string(i + 1) + " (" + inet::local_of(fds[i]) + " -> " + inet::peer_of(fds[i]) + ")";
    s.out_seed = out_seed;
    s.in_seed = in_seed;
    s.sent = kQueued;
  }
  return streams;
}

// The tree side of a connection after its final restore: the rest of B
// written, A read to its end; fails the program on any problem.
inline void finish_tree_side(std::vector<int> fds, double seconds = 60) {
  std::vector<Stream> streams = streams_of(fds, kSeedB, kSeedA);
  std::vector<Stream*> ptrs;
  for (Stream& s : streams) {
    s.out_end = kTotal;
    ptrs.push_back(&s);
  }
  if (!pump(ptrs, seconds, [](Stream&) {})) {
    for (Stream& s : streams)
      if (!s.error.empty()) fail("%s", s.error.c_str());
  }
  for (Stream& s : streams)
    RT_CHECK(s.got == kTotal, "%s: the peer's stream ended after %zu bytes, want %zu", s.name.c_str(), s.got, kTotal);
}

// The tree side before the dump: B's first kQueued bytes written, and at
// least some of A arrived (unread).  A big send buffer, so that the write
// returns while the peer reads nothing.
inline void queue_tree_side(int fd) {
  inet::setopt_int(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
  write_stream(fd, kSeedB, 0, kQueued);
  RT_CHECK(readable_within(fd, 30), "nothing from the peer on %s within 30 s", inet::peer_of(fd).c_str());
}

}  // namespace rt::tcp
