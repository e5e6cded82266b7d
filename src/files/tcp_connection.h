// Established TCP connections (--tcp-established): saved and restored by
// soccr in repair mode, kept from resetting by the network lock
// (net/network_lock.h).  The inet socket module (inet_socket.cpp) calls
// these for a TCP socket in state ESTABLISHED; dump.cpp and restore.cpp
// lock the tree's connections with tree_connections() / image_connections().
#pragma once

#include <sys/types.h>

#include <vector>

#include "ckpt/unique_fd.h"
#include "files.pb.h"
#include "net/network_lock.h"
#include "soccr.h"

namespace ckpt::files {

struct FilesImage;

// Our duplicates of the tree's connections, held from their save to the
// end of the dump.  Each is in repair mode only while it is saved: the
// lock keeps the peer's segments away meanwhile, so what was saved stays
// true, and a dump killed with SIGKILL leaves no socket of the running
// tree in repair mode.  Their fate follows the dump's:
//   dump failed or --leave-running (destructor): closed, nothing changes;
//   tree to be killed: silence() first puts them in repair mode again, so
//     that they go with the tree sending neither FIN nor RST, freeing
//     their addresses for the restore.
class TcpRepairs {
 public:
  TcpRepairs() = default;
  TcpRepairs(const TcpRepairs&) = delete;
  TcpRepairs& operator=(const TcpRepairs&) = delete;

  void hold(UniqueFd sock) { held_.push_back(std::move(sock)); }
  void silence();
  size_t size() const { return held_.size(); }

 private:
  std::vector<UniqueFd> held_;
};

// Saves the connection of `sock` (our duplicate, ESTABLISHED) into
// e.tcp, and its peer into e.dst_*, in repair mode; a duplicate is held by
// `repairs`.  Throws Error naming the connection.
void save_connection(int sock, img::InetSocketEntry& e, TcpRepairs& repairs);

// --tcp-close: only the addresses of the connection of `sock`; nothing is
// locked or put in repair mode, and restore makes it closed.
void save_closed_connection(int sock, img::InetSocketEntry& e);

// Makes the connection of `e` again on `sock`, a new socket with the
// options already set: bound, connected and queued as dumped, out of
// repair mode.
void restore_connection(int sock, const img::InetSocketEntry& e);

// --tcp-close, or a connection saved without its state: `sock` becomes a
// socket whose connection has ended (bound to its address, in state
// CLOSE): reads see the end, writes fail.
void restore_closed(int sock, const img::InetSocketEntry& e);

// Once the restored connections are unlocked and their processes still
// held: each sends a window probe (repair mode on and off on a duplicate
// taken with pidfd_getfd), so that its peer resumes at once.  Failures are
// logged: the connection then resumes at the peer's next probe.
void wake_connections(const FilesImage& image);

// The established connections the fds of the tree hold (pid as /proc
// knows it -> its fd numbers), found by socket inode in one listing of
// the kernel's TCP sockets.
std::vector<net::Connection> tree_connections(const std::vector<std::pair<pid_t, std::vector<int>>>& fds);

// The connections an image set restores.
std::vector<net::Connection> image_connections(const FilesImage& image);

// "127.0.0.1:5000 -> 127.0.0.1:41234" of an entry with a connection.
std::string connection_text(const img::InetSocketEntry& e);

}  // namespace ckpt::files
