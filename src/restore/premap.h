// Private memory a child still shared copy-on-write with its parent at the
// dump, shared again: the parent's task, still in ckpt's code, puts such an
// area's pages in place ("premaps" it) before it creates its children, so
// they inherit the very pages; each child fixes up its part (its own pages
// read over it, those it lacked dropped) before creating its own children;
// every blob then moves its premapped areas to their addresses (mremap keeps
// the pages) instead of mapping and reading them.
//
// Premaps live where ckpt reserved room (PROT_NONE mappings made before any
// task, clear of ckpt's memory and of every target area of the tree), so
// nothing of ckpt's and no restored area is ever in the way.
#pragma once

#include <cstdint>
#include <vector>

#include "proc/maps.h"
#include "restore/helper_files.h"
#include "restore/process_image.h"

namespace ckpt::restore {

struct Premap {
  size_t vma = 0;       // index into the process's vmas
  uint64_t at = 0;      // where it is in the task until the blob moves it
  uint64_t len = 0;
  bool inherited = false;  // a part of the parent's premap, fixed up, not filled
};

// Which areas of each process (index as in tree.procs) are premapped and
// where: an area is when a child has pages of the parent's within it (it is
// filled afresh, at a reserved place) or when its parent premapped an area
// holding it and it has pages of the parent's within it (the parent's,
// fixed up).  `parent[i]` is the index of process i's parent, or -1.  Only
// private anonymous areas the blob maps plainly (no MAP_GROWSDOWN, locked,
// droppable, wipe-on-fork or dont-fork areas).  `busy` is ckpt's memory.
std::vector<std::vector<Premap>> plan_premaps(const TreeImage& tree, const std::vector<int>& parent,
                                              std::vector<std::pair<uint64_t, uint64_t>> busy, uint64_t task_size);

// ckpt's reservations of the premaps' places (PROT_NONE), unmapped in ckpt
// at the end; every task inherits them.
class PremapReservations {
 public:
  PremapReservations() = default;
  PremapReservations(const PremapReservations&) = delete;
  PremapReservations& operator=(const PremapReservations&) = delete;
  ~PremapReservations();
  void reserve(const std::vector<std::vector<Premap>>& plan);

 private:
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

// In the task, before it creates its children: fills its fresh premaps with
// its pages and fixes up the inherited ones.  `helper_src` are ckpt's fds of
// its helper files (by slot).  Throws naming the pid.
void fill_premaps(const ProcessImage& p, const std::vector<Premap>& premaps, const HelperFiles& helpers,
                  const std::vector<int>& helper_src);

}  // namespace ckpt::restore
