// compel's end of the parasite's control socket: a SOCK_SEQPACKET unix
// socket listening on a fresh abstract name in the target's network
// namespace, which the parasite connects to.  Only compel's process holds
// this end, so its death is the parasite's EOF.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstdint>
#include <string>

#include "ckpt/parasite_proto.h"
#include "ckpt/unique_fd.h"
#include "ptrace_util.h"

namespace compel::detail {

class ControlSocket {
 public:
  // Listens for the parasite of pid, to run in its thread tid (in that
  // thread's network namespace).
  static ControlSocket listen_for(pid_t pid, pid_t tid);

  const sockaddr_un& address() const { return addr_; }
  socklen_t address_len() const { return addr_len_; }

  // Takes the connection of pid's parasite (its peer credentials checked)
  // and its greeting: the number of its socket in the target.  Stops
  // listening.  Throws on timeout or if the parasite went away.
  int accept_parasite(pid_t pid, Deadline deadline);

  // One command: sends it and waits for the answer with the same seq.
  void send(uint32_t cmd, uint32_t seq);
  // Waits up to timeout_ms for the answer to seq; false on timeout.
  // Throws if the parasite closed its end.
  bool poll_answer(uint32_t seq, int timeout_ms, int64_t& ret);
  int fd() const { return conn_.get(); }
  explicit operator bool() const { return bool(conn_); }
  void close() {
    conn_.reset();
    listener_.reset();
  }

 private:
  ckpt::UniqueFd listener_, conn_;
  sockaddr_un addr_{};
  socklen_t addr_len_ = 0;
  pid_t pid_ = 0;
};

}  // namespace compel::detail
