// cgroup membership: a process comes back in the cgroups it was in.
//
// Dump: /proc/PID/cgroup of every process, one CgroupEntry per hierarchy
// (cgroup v2, and each v1 hierarchy if any is mounted).  A thread in a
// cgroup of its own (a threaded cgroup v2 subtree) is refused: the blob
// creates the threads, and they would all come back in the process's.
//
// Restore: before any task exists, ckpt works out for each process the
// hierarchies where its cgroup is not the one it would inherit (ckpt's own
// for the root, its restored parent's for the others) and checks that each
// such cgroup still exists in a mounted cgroup file system; otherwise the
// restore is refused naming the process and the cgroup ("cannot restore pid
// N: its cgroup /a/b (cgroup v2, /sys/fs/cgroup/a/b) does not exist any
// more").  Each task then writes its pid into those cgroup.procs files
// itself, first thing, before it opens a file or creates a child: its
// children and threads start in its cgroups.  Like CRIU's default "soft"
// mode, ckpt neither creates cgroups nor restores their settings.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core.pb.h"
#include "proc/cgroup.h"

namespace ckpt::restore {
struct TreeImage;
}

namespace ckpt::cgroup {

// --- dump ---------------------------------------------------------------

// Throws "thread T of pid N is in cgroup /x of cgroup v2, its process in
// /y: threads in cgroups of their own are not supported yet" if a thread of
// `tids` is not in its process's cgroups (`proc_id`: where /proc shows the
// process, see dump::ProcessSnapshot).
void refuse_thread_cgroups(pid_t pid, pid_t proc_id, const std::vector<pid_t>& tids);

// The cgroups of the process whose /proc is at `proc_id`.
std::vector<img::CgroupEntry> dump_cgroups(pid_t proc_id);

// --- restore ------------------------------------------------------------

// One cgroup a task moves itself into.
struct Move {
  std::string path;        // as recorded: "/a/b"
  std::string hierarchy;   // for messages: "cgroup v2", "the cgroup v1 hierarchy pids"
  std::string dir;         // where ckpt sees it: "/sys/fs/cgroup/unified/a/b"
};

// A process of the tree as the plan needs it: parents come before children.
struct Member {
  int pid = 0;
  int parent = -1;                        // index into the members; -1 for the root
  std::vector<proc::CgroupLine> cgroups;  // as recorded; empty: none recorded, inherits
};

// Pure: the moves of each member.  `own` is ckpt's /proc/self/cgroup,
// `mounts` its cgroup mounts.  Throws "cannot restore pid N: its cgroup /x
// of HIERARCHY cannot be entered: no such hierarchy is mounted here".
std::vector<std::vector<Move>> plan_moves(const std::vector<Member>& members,
                                          const std::vector<proc::CgroupLine>& own,
                                          const std::vector<proc::CgroupMount>& mounts);

// The moves of every process of `tree` (in its order), each cgroup checked
// to exist.
std::vector<std::vector<Move>> plan_restore(const restore::TreeImage& tree);

// In the task `pid`: writes its pid into each cgroup's cgroup.procs.
// Throws "cannot restore pid N: cannot move it into its cgroup ...: REASON".
void enter(int pid, const std::vector<Move>& moves);

}  // namespace ckpt::cgroup
