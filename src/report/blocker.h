// What stops a command before it changes anything: each thing the dump's
// pre-flight (and `check -t`) finds in a tree, or the restore's checks find
// in the images and on the machine.  One type for all of them, so that the
// message on stderr, `check -t`'s lines and --json's "blockers" say the
// same.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "ckpt/error.h"

namespace ckpt::report {

struct Blocker {
  pid_t pid = 0;
  int fd = -1;             // -1: not about one fd
  std::string reason;      // "io_uring is not supported yet"
  std::string kind = {};   // what it is about: "pipe", "io_uring", "memory area" ...; may be ""
  std::string area = {};   // a memory area ("memory area 7f00-7f10 (/x)"), or ""
  std::string remedy = {}; // the option or action that resolves it ("use --ext-unix-sk"), or ""

  // The sentence: "fd 5 of pid 12: REASON", "AREA of pid 12: REASON", or
  // the reason alone (which then names its process itself).
  std::string text() const;
};

// The blockers of one command, collected so that it can name every one.
class BlockerList {
 public:
  void add(Blocker b) { all_.push_back(std::move(b)); }
  void add(pid_t pid, const std::string& kind, const std::string& reason, const std::string& area = "") {
    add({.pid = pid, .fd = -1, .reason = reason, .kind = kind, .area = area});
  }
  // Runs `body`; an Error it throws is one blocker of `pid` (the whole
  // message its reason).  Images found corrupted are no blocker: they end
  // the command (BadImages goes on).
  void check(pid_t pid, const std::string& kind, const std::function<void()>& body);

  bool empty() const { return all_.empty(); }
  size_t size() const { return all_.size(); }
  const std::vector<Blocker>& all() const { return all_; }
  std::vector<Blocker>& all() { return all_; }

 private:
  std::vector<Blocker> all_;
};

}  // namespace ckpt::report
