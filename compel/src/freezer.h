// The cgroup freezer around a seize: while the cgroup holding the tree is
// frozen no task can fork or clone, so one walk finds every task.  Works
// with a cgroup v2 directory (cgroup.freeze) and a v1 freezer directory
// (freezer.state).  The destructor thaws whatever happens.
#pragma once

#include <string>

#include "ptrace_util.h"

namespace compel::detail {

class Freezer {
 public:
  // Freezes the cgroup and waits until the kernel reports it frozen.
  Freezer(const std::string& cgroup_dir, Deadline deadline);
  ~Freezer();
  Freezer(const Freezer&) = delete;
  Freezer& operator=(const Freezer&) = delete;

  void thaw();

 private:
  bool is_frozen() const;
  void write_state(bool frozen) const;

  std::string dir_;
  bool v2_ = false;
  bool frozen_ = false;
};

}  // namespace compel::detail
