// The tree as the pre-flight sees it: its processes and their threads,
// described either from a frozen tree (dump) or from /proc while it runs
// (`ckpt check -t`), so that both run the same checks on the same picture.
#pragma once

#include <sys/types.h>

#include <vector>

#include "compel/compel.h"
#include "files/files.h"

namespace ckpt::dump {

struct TaskView {
  pid_t pid = 0, ppid = 0, pgid = 0, sid = 0;
  bool zombie = false;            // the whole process has exited
  // Live threads only, main thread first if it lives (a zombie main thread
  // is left out: nothing runs in it, /proc shows nothing of it).
  std::vector<pid_t> tids;
  pid_t proc_id = 0;              // where /proc shows the process (see dump::ProcessSnapshot)
};

struct TreeView {
  pid_t root = 0;
  std::vector<TaskView> processes;  // parents before children
  const TaskView* find(pid_t pid) const;
};

// The picture of a seized tree.
TreeView view_of(const compel::FrozenTree& tree, pid_t root);

// The picture of a live tree, read from /proc only (each task's
// task/TID/children, stat): the tree is neither stopped nor traced, so a
// task that forks or exits meanwhile may be missed or seen gone.  Throws
// "no process with pid N" if the root does not exist.
TreeView read_live_tree(pid_t root);

// The pids and the tids of the other threads, for fds on /proc entries.
files::TreeTasks tasks_of(const TreeView& tree);

}  // namespace ckpt::dump
