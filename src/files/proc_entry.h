// Files under /proc/PID/ (and /proc/PID itself) that an fd holds: reading
// them describes the process PID at the time of the read, and their inodes
// are made anew for every process, so they cannot be checked by device and
// inode like other files.
//
//   PID in the dumped tree      restored with its pid: opened again by path
//                               once that process exists (restore/task_files
//                               decides when), so the fd describes the
//                               restored process
//   a thread of the tree other  refused (threads are made by the restorer
//   than a main thread          blob, after every fd is in place)
//   PID outside the tree        opened again by path only if PID is still the
//                               process it was at dump (same start time), else
//                               the restore is refused, naming it
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "files.pb.h"
#include "files/files.h"
#include "files/open_fd.h"

namespace ckpt::files {

// The pid and the tid (of /proc/PID/task/TID/..., else the pid) a /proc path
// names, or nullopt for a path not under /proc/PID.
struct ProcTarget {
  pid_t pid;
  pid_t tid;
};
std::optional<ProcTarget> proc_target(const std::string& path);

// Dump: records in `reg` what a /proc/PID path of `fd` needs at restore.
// Throws Error with the reason alone to refuse it.  Does nothing for other
// paths.
void dump_proc_entry(const OpenFd& fd, const DumpFdOptions& opts, img::RegFileEntry& reg);

// Restore, before anything is made and again right after opening: a pid
// outside the tree is still the process it was.  Throws Error with the
// reason alone.
void check_proc_entry(const img::RegFileEntry& reg);

// The process of the dumped tree a file names (an fd on /proc/PID/..., a
// pidfd of PID): restore opens the file only once that process exists
// (restore/task_files), and the dump refuses one shared by processes it
// could not be handed down to.  nullopt for any other file.
std::optional<pid_t> tree_process_named(const img::FileEntry& file);

// The start time of process `pid` (stat field 22, clock ticks since boot),
// nullopt if it is gone: whether a pid is still the process it was.
std::optional<uint64_t> process_start_time(pid_t pid);

}  // namespace ckpt::files
