// The new task's first life: ckpt's own code, running in the task created
// with the target's pid, until it jumps into the restorer blob.  It makes
// what belongs to the task rather than to its memory: session and process
// group, fds, cwd, root, umask, comm; then moves the helper fds out of the
// way, closes everything else of ckpt and jumps.  It never returns: a
// failure is written to the area's status and the task exits with
// CKPT_RESTORER_EXIT_CHILD_FAILED.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "restore/restorer_area.h"

namespace ckpt::restore {

enum class SessionAction {
  Keep,        // stay in ckpt's session and process group (--shell-job, or same group)
  NewSession,  // it led its session: setsid()
  OwnGroup,    // it led its process group in ckpt's session: setpgid(0, 0)
  JoinGroup,   // it was in another existing group of ckpt's session
};

struct ChildPlan {
  int pid = 0;
  std::string images_path;
  bool shell_job = false;
  SessionAction session = SessionAction::Keep;
  int join_pgid = 0;
  std::vector<int> helper_src;   // ckpt's fds of the helper files, by slot
  int helper_fd_first = 0;
  std::vector<int> target_fds;   // ascending
  int go_fd = -1;                // ckpt writes a byte once it traces us
  int go_write_fd = -1;          // ckpt's end, closed in the task
  std::string cwd, root;
  std::optional<uint32_t> umask;
  std::string comm;
  std::optional<int> oom_score_adj;
  const RestorerArea* area = nullptr;
};

[[noreturn]] void run_child(const ChildPlan& plan);

}  // namespace ckpt::restore
