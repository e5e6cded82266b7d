// Objects that fds and memory areas of a tree share and that are saved once
// for the whole tree, not per fd: memfds (shmem objects) and deleted files
// (ghosts).  The file modules only name them by id; the dump's registry
// (dump/shared_memory.h) records them, and restore creates each once in
// ckpt before any task exists (restore/shared_memory.h).
#pragma once

#include <cstdint>
#include <map>

#include "files/open_fd.h"

namespace ckpt::files {

// Dump side.
class DumpObjects {
 public:
  virtual ~DumpObjects() = default;
  // The shmem id of the memfd `fd` is open on (one per memfd of the tree,
  // whatever fds and areas use it).  Throws Error with the reason alone to
  // refuse it ("hugetlb memfds are not supported yet").
  virtual uint32_t memfd(const OpenFd& fd) = 0;
  // The ghost id of the deleted regular file `fd` is open on.  Throws Error
  // with the reason alone to refuse it (too big for --ghost-limit ...).
  virtual uint32_t ghost(const OpenFd& fd) = 0;
};

// Restore side: fds of ckpt, inherited by every task, on the restored
// objects.  A module opens a description of its own through
// /proc/self/fd/N, so each description keeps its own flags and offset.
struct RestoreObjects {
  std::map<uint32_t, int> shmem;  // shmem id -> fd of the object
  std::map<uint32_t, int> ghost;  // ghost id -> fd of the recreated file or directory
};

// "/proc/self/fd/N" reopened with `flags` (O_CLOEXEC added).  Throws Error.
UniqueFd reopen_fd(int fd, int flags, const std::string& what);

}  // namespace ckpt::files
