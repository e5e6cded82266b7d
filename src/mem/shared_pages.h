// Pages a child still shares with its parent since fork, stored once.
//
// The tree is dumped parents first.  A page of a child's private anonymous
// area that is the very physical page its parent has at the same address
// (same frame number in both pagemaps) holds the same data; if the parent's
// pagemap saved that page, the child's pagemap only says where it is.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "mem/page_frames.h"
#include "mem/page_plan.h"

namespace ckpt::mem {

// The pages a dumped process's pagemap holds, in address order, with where
// each run's data is (its own pages image, or the one its run names).
class DumpedPages {
 public:
  DumpedPages() = default;
  // From a process's plan; `pages_id` names its own pages image.
  DumpedPages(const PagePlan& plan, uint32_t pages_id, uint64_t page_size);
  // Where the page at `vaddr` was dumped, if it was.
  std::optional<PageLocation> find(uint64_t vaddr) const;

 private:
  struct Run {
    uint64_t start, end;
    PageLocation at;
  };
  std::vector<Run> runs_;  // address order
};

// Pure: the `n` pages from `start`, with their pagemap entries (the child's
// read before and again after the parent's), appended to `out` as pieces:
// a page that is the same frame in all three reads and that the parent
// dumped is in the parent's location, any other is the child's own.  A
// piece that continues the last one of `out` (own after own, or the next
// page of the same image) extends it.  Returns the pages in the parent's.
uint64_t split_by_frames(uint64_t start, size_t n, const uint64_t* child, const uint64_t* parent,
                         const uint64_t* child_again, const DumpedPages& parent_pages, uint64_t page_size,
                         std::vector<PagePiece>& out);

// Pure: the spans of the pagemap to read for `ranges` (address order): each
// at most `max_span` bytes, covering whole ranges (a longer one cut) and the
// gaps between them where those are at most `max_gap`.
std::vector<PageRange> pagemap_reads(const std::vector<PageRange>& ranges, uint64_t max_span, uint64_t max_gap);

// Reads the page frames of a child and of its (dumped, still frozen) parent
// in large chunks (pagemap_reads) and splits the child's ranges with
// split_by_frames.
class SharedWithParent {
 public:
  // Throws (naming the pid) if either pagemap cannot be opened.
  SharedWithParent(pid_t child, pid_t parent, const DumpedPages& parent_pages, uint64_t page_size);
  // The present pages of one private anonymous area of the child, in
  // address order, split into own pieces and the parent's.
  std::vector<PagePiece> split(const std::vector<PageRange>& ranges);
  // Pages found in the parent's images so far.
  uint64_t shared_pages() const { return shared_pages_; }
  // Present pages whose frame number the kernel did not show (ckpt is not
  // root): never shared.
  uint64_t hidden_frames() const { return hidden_frames_; }

 private:
  // The child's, the parent's and again the child's entries of `read`.
  void read_frames(const PageRange& read);
  // Splits `part`, a range (or a piece of one) inside the last read.
  void split_read(const PageRange& read, const PageRange& part, std::vector<PagePiece>& out);

  PageFrames child_, parent_;
  const DumpedPages& parent_pages_;
  uint64_t page_size_;
  uint64_t shared_pages_ = 0, hidden_frames_ = 0;
  std::vector<uint64_t> before_, theirs_, after_;
};

}  // namespace ckpt::mem
