// The fds of a restored tree.  A file description used by several processes
// is one FileEntry of files.img referred to by each one's fdinfo; it is
// opened ONCE (files::open_files), by the lowest common ancestor of its
// users, before that process creates its children, at a number above every
// fd any process of the tree will have.  The children inherit it, so after
// the restore the processes share it (and its offset) as they did.  Each
// process then puts its own fds at their numbers (files::install_fds) and
// closes the rest.  Terminals (--shell-job) are not shared: install_fds
// gives each process ckpt's own stdio in their place, still at 0-2 in every
// task since each creates its children before installing its own fds.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "image/image.h"
#include "restore/process_image.h"
#include "restore/tree_plan.h"

namespace ckpt::restore {

struct TreeFiles {
  std::vector<std::set<uint32_t>> owned;  // per process index: opened before its children
  // Per process index: descriptions on /proc/Q/... of a process Q of the
  // tree that is neither that process nor an ancestor of it (a child, a
  // sibling): opened once every process of the tree exists, by their one
  // user (the dump refuses such a description shared by several).
  std::vector<std::set<uint32_t>> late;
  bool late_opens = false;
  // Per process index: descriptions only that process uses, each opened
  // at its lowest fd number there (when free), so it needs no second fd
  // above the floor; id -> that number.  Children close what they inherit
  // of them (`private_owner`: id -> process index).
  std::vector<std::map<uint32_t, int>> own_number;
  std::map<uint32_t, size_t> private_owner;
  size_t largest_group = 0;
  int floor = 0;                          // descriptions are opened at or above this
  int ceiling = 0;                        // and below this (the helper fds start there)
  size_t budget = 0;                      // how many may be open at once at or above floor
};

// Decides who opens each description, from which each live process uses:
// a whole group at once, by the common ancestor of every process that
// holds one of its files or needs one.  `budget` counts the descriptions
// not placed at their own numbers; the caller adds room for those whose
// number turns out taken (by an fd of ckpt, or a group's other member),
// sets `floor` above every fd number of the tree and every fd ckpt holds,
// and `ceiling` at floor + budget.
TreeFiles plan_tree_files(const TreeImage& tree, const std::vector<NodePlan>& plan);

// id -> fd number, in a task: what it inherited plus what it opened.
using OpenedFiles = std::map<uint32_t, int>;

}  // namespace ckpt::restore
