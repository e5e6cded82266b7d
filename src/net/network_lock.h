// The network lock of `ckpt dump --tcp-established`: while a tree's TCP
// connections are saved, and from when it is killed until restore has put
// them back, no packet of these connections may reach the kernel (it would
// answer the peer with a reset, or acknowledge data nobody will read) nor
// leave it (a FIN or reset when the dead process's socket is closed).  An
// nftables table of ckpt's own drops exactly these packets, both ways, and
// nothing else; the peers retransmit until the table is gone.
#pragma once

#include <stdint.h>

#include <array>
#include <string>
#include <vector>

namespace ckpt::net {

struct Connection {                  // one TCP connection, as the lock matches it
  int family = 0;                    // AF_INET, AF_INET6
  std::array<uint8_t, 16> local_addr{}, remote_addr{};   // 4 bytes used for AF_INET
  uint16_t local_port = 0, remote_port = 0;               // host order
  std::string text() const;          // "127.0.0.1:5000 -> 127.0.0.1:41234", "[::1]:5000 -> [::1]:41234"
};

class NetworkLock {
 public:
  NetworkLock() = default;
  NetworkLock(NetworkLock&&) noexcept;
  NetworkLock& operator=(NetworkLock&&) noexcept;
  NetworkLock(const NetworkLock&) = delete;
  NetworkLock& operator=(const NetworkLock&) = delete;

  // Creates nftables table `inet <table>` of ckpt's own that drops every packet of exactly these connections,
  // both directions, at input and output (so the kernel neither sees the peer's segments nor sends a reset or
  // FIN for them); throws ckpt::Error naming the table and libnftables' error text.  An empty list makes no
  // table (and unlock() is then a no-op).  A table of that name already there is an error (it may hold the
  // lock of a dump not restored yet), and nothing is changed then.
  static NetworkLock lock(const std::string& table, const std::vector<Connection>& conns);

  const std::string& table() const { return table_; }
  bool locked() const { return locked_; }   // the table was made and is not removed yet (kept or not)
  void unlock();                     // deletes the table now (throws ckpt::Error on failure)
  void keep();                       // leave the table past this object (restore removes it)
  ~NetworkLock();                    // unlock() (errors logged, never thrown) unless kept or moved from

  // Restore: removes a table a dump left; returns false if there was none.
  static bool unlock_table(const std::string& table);
  static bool table_exists(const std::string& table);

 private:
  void release() noexcept;   // what the destructor does
  std::string table_;
  bool locked_ = false;
  bool kept_ = false;
};

std::string lock_table_name(int root_pid);   // "ckpt_<root_pid>": one per dumped tree

}  // namespace ckpt::net
