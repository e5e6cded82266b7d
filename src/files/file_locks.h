// File locks and leases held by a process: flock(2), POSIX (fcntl F_SETLK),
// open file description (F_OFD_SETLK) locks and F_SETLEASE leases.
//
// ckpt does not restore them yet, and a lock that silently vanishes at
// restore is worse than a refused dump: the dump refuses a tree that holds
// any, naming the process, the kind, read or write, and the file.
//
// Where they are read: /proc/PID/fdinfo/FD "lock:" lines.  The kernel lists
// there the locks set through that fd's open file description and owned by
// the process (POSIX: owned by its file table) or by the description itself
// (flock, OFD, lease), so a flock or OFD lock inherited over fork shows in
// the child too, and a POSIX lock (never inherited) only in its owner.
// /proc/locks is no help: it shows -1 for an OFD lock's pid and, for a
// flock, the pid that took it, even after that process has gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::files {

enum class LockKind { Flock, Posix, Ofd, Lease, Other };

struct FileLock {
  LockKind kind = LockKind::Other;
  bool write = false;             // WRITE (exclusive), else READ (shared)
  uint64_t start = 0;             // POSIX and OFD: the byte range
  std::optional<uint64_t> end;    // inclusive; none: to the end of the file
  std::string text;               // the kernel's line, for an unknown kind
};

// One fdinfo "lock:" value, e.g. "1: POSIX  ADVISORY  WRITE 812 fe:00:1234 5 14".
FileLock parse_lock_line(std::string_view value);

// "a POSIX write lock", "a read lease", "an OFD read lock (bytes 5-14)".
std::string describe_lock(const FileLock& lock);

// Throws "pid N holds a KIND lock on PATH: use --file-locks" for the first
// lock or lease held through any of `fds` of process `pid` (`proc_id`: where
// /proc shows it, see dump::ProcessSnapshot).
void refuse_file_locks(pid_t pid, pid_t proc_id, const std::vector<int>& fds);

}  // namespace ckpt::files
