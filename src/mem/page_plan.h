// The pages of a process that go into its pages image: runs in address
// order, each at the next offset of pages-<id>.img.  Runs whose pages are
// still its parent's (shared copy-on-write since fork) name the image they
// were dumped into instead and take no room in its own.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mem/page_scan.h"
#include "pagemap.pb.h"

namespace ckpt::mem {

// Where a dumped page's data is: which pages image, at what byte offset.
struct PageLocation {
  uint32_t pages_id;
  uint64_t offset;
  bool operator==(const PageLocation&) const = default;
};

// A piece of an area's pages: the process's own (`in` empty), or pages
// already in another process's pages image at `in`.
struct PagePiece {
  PageRange range;
  std::optional<PageLocation> in;
};

class PagePlan {
 public:
  explicit PagePlan(uint64_t page_size) : page_size_(page_size) {}
  // Appends the ranges of one area; areas must come in address order and the
  // ranges of each in address order too.  Returns the pages added.
  uint64_t add_area(const std::vector<PageRange>& ranges);
  // The same for pieces, own or elsewhere.  Returns the pages added (both).
  uint64_t add_pieces(const std::vector<PagePiece>& pieces);

  // The pagemap runs, each with its offset in the pages file (or, with
  // in_pages_id, in that other pages file).
  const std::vector<img::PagemapEntry>& runs() const { return runs_; }
  // The own runs as (start, length) ranges, for splicing.
  const std::vector<PageRange>& ranges() const { return ranges_; }
  // Own pages and bytes: what goes into the pages image.
  uint64_t pages() const { return bytes_ / page_size_; }
  uint64_t bytes() const { return bytes_; }
  // Pages of runs in another process's pages image.
  uint64_t shared_pages() const { return shared_pages_; }

 private:
  img::PagemapEntry& append_run(const PageRange& r);

  uint64_t page_size_;
  uint64_t bytes_ = 0;
  uint64_t shared_pages_ = 0;
  uint64_t end_ = 0;  // of the last run, own or not
  std::vector<img::PagemapEntry> runs_;
  std::vector<PageRange> ranges_;
};

}  // namespace ckpt::mem
