// A restored task's first life: ckpt's own code, running in the task created
// with the target's pid, until it jumps into its restorer blob.  The root is
// created by ckpt; every other process by its restored parent, still in this
// code, so parent and child are real parent and child:
//
//   its cgroups                      (cgroup.procs)
//   session / process group          (setsid, setpgid)
//   open the file descriptions it owns (shared with its descendants)
//   create each child with its pid   (clone3 set_tid; zombies end at once)
//   once every process exists: open its fds on /proc of other processes
//   helper fds above everything; comm, oom_score_adj, the process's prctl
//   state (after its children: a child would inherit THP disable) and audit
//   loginuid; cwd, root, umask
//   its own fds at their numbers, the rest closed
//   block every signal, jump to the blob
//
// ckpt traces the root with PTRACE_O_TRACEFORK, so every child is traced by
// ckpt from its first instruction.  A task never returns: a failure is
// written to its area's status and it exits with
// CKPT_RESTORER_EXIT_CHILD_FAILED (a zombie, which has no area, just exits
// with that code).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "files/objects.h"
#include "restore/restorer_area.h"
#include "restore/task_files.h"
#include "restore/tree_plan.h"
#include "task/prctl.h"

namespace ckpt::restore {

struct TaskPlan {
  int pid = 0;
  bool zombie = false;
  int zombie_status = 0;          // wait status a zombie ends with
  SessionAction session = SessionAction::Keep;
  int pgid = 0;                   // the group it ends in
  std::vector<size_t> children;   // indices into TreeRun::tasks, creation order
  std::vector<int> helper_src;    // ckpt's fds of the helper files, by slot
  int helper_fd_first = 0;
  std::vector<int> target_fds;    // ascending
  std::string cwd, root;          // as ckpt looks them up: under --root (restore.cpp task_plan)
  int cwd_fd = -1, root_fd = -1;  // ckpt's fds of a deleted cwd or root, made again
  std::optional<uint32_t> umask;
  std::string comm;
  std::optional<int> oom_score_adj;
  task::ProcessPrctl prctl;       // subreaper, THP disable, membarrier, loginuid
  std::vector<cgroup::Move> cgroups;  // entered first thing: its children start there
  const RestorerArea* area = nullptr;  // null for a zombie
  // Its premapped areas (filled before it creates its children), with what
  // filling them reads.
  const std::vector<Premap>* premaps = nullptr;
  const ProcessImage* image = nullptr;
  const HelperFiles* helpers = nullptr;
};

// Everything the tasks need, in ckpt's memory before the root is created
// (every task has a copy).
struct TreeRun {
  std::vector<TaskPlan> tasks;    // index 0 is the root
  const image::ImageDir* dir = nullptr;  // ckpt's, inherited: read before any fd is installed
  const TreeFiles* files = nullptr;
  const files::FilesImage* files_image = nullptr;  // files.img and every fdinfo
  // --shell-job, --inherit-fd ...; the memfds and deleted files made by ckpt.
  const files::RestoreFdOptions* fd_opts = nullptr;
  int fail_pid = 0;               // Tuning::fail_pid, for the tests of a failed tree
  int go_fd = -1;                 // the root waits for a byte: ckpt traces it
  int go_write_fd = -1;           // ckpt's end, closed in the root
  // With fds opened late (TreeFiles::late): every task closes created_w
  // once its children exist; created_r reads EOF when all do.
  int created_r = -1, created_w = -1;
};

// clone3 with set_tid = {pid}: returns 0 in the child.  Throws "cannot
// restore pid N: the pid is taken by ..." and the like.
// `sibling` (--restore-sibling): the task is created with CLONE_PARENT,
// the caller's sibling rather than its child.
pid_t clone_with_pid(int pid, bool sibling = false);

// The root's code (task 0), after ckpt's clone3.
[[noreturn]] void run_root(const TreeRun& run);

}  // namespace ckpt::restore
