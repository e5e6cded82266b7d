// CRIU's action scripts (--action-script FILE, repeatable): each script is
// run at each stage of a dump or a restore, with the stage's name in
// CRTOOLS_SCRIPT_ACTION, the images directory in CRTOOLS_IMAGE_DIR and, at
// dump once the tree is frozen and at restore once the root exists, the
// root's pid in CRTOOLS_INIT_PID.  A script is
// run as `/bin/sh -c FILE` (so FILE may carry arguments, as CRIU allows),
// with ckpt's stdin, stdout and stderr and no other fd of ckpt, and ckpt
// waits for it.  A script that exits non-zero (or is killed) fails the
// command at that stage.
//
// The stages, in the order they come:
//   dump:    pre-dump, [network-lock], post-dump, [network-unlock]
//   restore: pre-restore, [network-lock], post-restore, pre-resume,
//            [network-unlock], post-resume
// (network-lock and network-unlock only when the tree has TCP connections
// that are locked: --tcp-established; network-unlock at dump only with
// --leave-running.)
#pragma once

#include <string>
#include <vector>

namespace ckpt::action {

enum class Stage { PreDump, PostDump, PreRestore, PostRestore, NetworkLock, NetworkUnlock, PreResume, PostResume };

// CRIU's name of the stage: "pre-dump", "network-lock", ...
const char* stage_name(Stage stage);

class Scripts {
 public:
  Scripts() = default;
  Scripts(std::vector<std::string> scripts, std::string images_dir)
      : scripts_(std::move(scripts)), images_dir_(std::move(images_dir)) {}

  // CRTOOLS_INIT_PID for the stages from now on.
  void set_init_pid(int pid) { init_pid_ = pid; }
  bool empty() const { return scripts_.empty(); }

  // Runs every script, in the order given, for `stage`.  Throws "action
  // script FILE failed at stage STAGE: it exited with status N" (or "was
  // killed by SIGNAL", "cannot be started: REASON") at the first that fails.
  void run(Stage stage) const;

 private:
  std::vector<std::string> scripts_;
  std::string images_dir_;
  int init_pid_ = 0;
};

}  // namespace ckpt::action
