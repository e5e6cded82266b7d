// The pages of a process that go into its pages image: runs in address
// order, each at the next offset of pages-<id>.img.
#pragma once

#include <cstdint>
#include <vector>

#include "mem/page_scan.h"
#include "pagemap.pb.h"

namespace ckpt::mem {

class PagePlan {
 public:
  explicit PagePlan(uint64_t page_size) : page_size_(page_size) {}
  // Appends the ranges of one area; areas must come in address order and the
  // ranges of each in address order too.  Returns the pages added.
  uint64_t add_area(const std::vector<PageRange>& ranges);

  // The pagemap runs, each with its offset in the pages file.
  const std::vector<img::PagemapEntry>& runs() const { return runs_; }
  // The same runs as (start, length) ranges, for splicing.
  const std::vector<PageRange>& ranges() const { return ranges_; }
  uint64_t pages() const { return bytes_ / page_size_; }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t page_size_;
  uint64_t bytes_ = 0;
  std::vector<img::PagemapEntry> runs_;
  std::vector<PageRange> ranges_;
};

}  // namespace ckpt::mem
