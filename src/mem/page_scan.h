// Finding the pages of an area that hold data: PAGEMAP_SCAN on
// /proc/PID/pagemap for private memory, SEEK_DATA on the shmem object for
// shared anonymous memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "ckpt/unique_fd.h"
#include "mem/vma.h"

namespace ckpt::mem {

// [start, end), page aligned.
struct PageRange {
  uint64_t start, end;
  uint64_t size() const { return end - start; }
};

// What the page tables say about one area.
struct AreaScan {
  std::vector<PageRange> pages;   // to save (see PagemapScanner::scan)
  std::vector<PageRange> guards;  // guard pages (MADV_GUARD_INSTALL)
};

class PagemapScanner {
 public:
  // Opens /proc/PID/pagemap.
  explicit PagemapScanner(pid_t pid);
  // The pages of [start, end) that `source` says to save (Anon or
  // PrivateFile; none for None), and the guard pages of the range in every
  // case, each merged into ranges in address order.  Guard pages are never
  // among the pages: they hold nothing and cannot be read.
  AreaScan scan_area(uint64_t start, uint64_t end, PageSource source);
  // scan_area()'s pages alone.
  std::vector<PageRange> scan(uint64_t start, uint64_t end, PageSource source) {
    return scan_area(start, end, source).pages;
  }
  // Whether this kernel's PAGEMAP_SCAN tells guard pages (Linux 6.14); known
  // after the first scan_area().
  bool sees_guards() const { return sees_guards_; }

 private:
  struct Categories {
    uint64_t inverted, required, anyof, reported;
  };
  // Runs PAGEMAP_SCAN over [start, end); appends each region to `pages` or,
  // with PAGE_IS_GUARD, to `guards`.  false: the kernel refused the
  // categories (EINVAL).
  bool run(uint64_t start, uint64_t end, const Categories& c, AreaScan& out);
  Categories categories_for(PageSource source) const;

  pid_t pid_;
  UniqueFd pagemap_;
  bool sees_guards_ = true;
};

// The data ranges of the shmem object behind a shared anonymous area, as
// addresses within it.  `object` is an fd of that object (opened from
// /proc/PID/map_files/START-END); its swapped-out pages count as data, unlike
// in the page tables.
std::vector<PageRange> shmem_data_ranges(int object, const img::VmaEntry& vma);

}  // namespace ckpt::mem
