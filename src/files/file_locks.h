// File locks and leases held by a process: flock(2), POSIX (fcntl F_SETLK),
// open file description (F_OFD_SETLK) locks and F_SETLEASE leases.
//
// A lock that silently vanishes at restore is worse than a refused dump:
// without --file-locks the dump refuses a tree that holds any, naming the
// process, the kind, read or write, and the file.  With it, flock, POSIX
// and OFD locks are saved on the FileEntry of the description they were
// taken through (FileEntry.locks; a POSIX lock with its owner's pid) and
// taken again at restore, which needs --file-locks too; leases are refused
// by name either way.
//
//   flock, OFD   owned by the description: taken by the process that opens
//                it again, right after the open (take_description_locks)
//   POSIX        owned by a process: taken by that process once ckpt's last
//                fd in it is closed (take_posix_locks), since closing ANY fd
//                of a file drops every POSIX lock the process has on it
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

#include "files.pb.h"
#include "proc/fdinfo.h"

namespace ckpt::files {

struct FilesImage;
struct RestoreFdOptions;

enum class LockKind { Flock, Posix, Ofd, Lease, Other };

struct FileLock {
  LockKind kind = LockKind::Other;
  bool write = false;             // WRITE (exclusive), else READ (shared)
  uint64_t start = 0;             // POSIX and OFD: the byte range
  std::optional<uint64_t> end;    // inclusive; none: to the end of the file
  std::string text;               // the kernel's line, for an unknown kind
  std::string file;               // "MAJ:MIN:INO" of the locked file (hex device, decimal inode)
};

// One fdinfo "lock:" value, e.g. "1: POSIX  ADVISORY  WRITE 812 fe:00:1234 5 14".
FileLock parse_lock_line(std::string_view value);

// "a POSIX write lock", "a read lease", "an OFD read lock (bytes 5-14)".
std::string describe_lock(const FileLock& lock);

// Pre-flight.  Without `file_locks`: throws "pid N holds a KIND lock on
// PATH: use --file-locks" for the first lock or lease held through any of
// `fds` of process `pid` (`proc_id`: where /proc shows it, see
// dump::ProcessSnapshot).  With it: the same for the first lease or lock of
// a kind ckpt cannot take again ("...: leases are not supported yet"), and
// for a POSIX lock on a file the process also maps (the restorer's own fd
// of the mapping, closed after the lock is taken, would drop it).
void refuse_file_locks(pid_t pid, pid_t proc_id, const std::vector<int>& fds, bool file_locks = false);

// ---- --file-locks --------------------------------------------------------

// "a POSIX write lock (bytes 5-14) of pid 12".
std::string describe_lock(const img::FileLockEntry& lock);

// Dump: the locks the fdinfo `info` of an fd of process `pid` (as in the
// images) lists, added to `entry` unless it has them already (a flock shows
// on every fd of its description, in every process).  Throws Error with the
// reason alone for a lease or an unknown kind.
void save_file_locks(const proc::Fdinfo& info, pid_t pid, img::FileEntry& entry);

// Restore, before anything is made: refuses a file that holds locks
// without --file-locks ("it holds a flock write lock; restore with
// --file-locks").  Throws Error with the reason alone.
void check_file_locks(const img::FileEntry& entry, const RestoreFdOptions& opts);

// Restore, in the process that has just opened `entry` at `fd`: its flock
// and OFD locks.  Throws Error with the reason alone.
void take_description_locks(const img::FileEntry& entry, int fd);

// Restore, in process `pid` once its fds are at their numbers and ckpt's
// own are closed: the POSIX locks it owned.  Throws Error "cannot restore
// fd N of pid P: cannot take its POSIX ... lock again: REASON".
void take_posix_locks(const FilesImage& image, int pid);

}  // namespace ckpt::files
