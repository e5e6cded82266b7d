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

class PagemapScanner {
 public:
  // Opens /proc/PID/pagemap.
  explicit PagemapScanner(pid_t pid);
  // The pages of [start, end) that `source` says to save (Anon or
  // PrivateFile), merged into ranges in address order.
  std::vector<PageRange> scan(uint64_t start, uint64_t end, PageSource source);

 private:
  pid_t pid_;
  UniqueFd pagemap_;
};

// The data ranges of the shmem object behind a shared anonymous area, as
// addresses within it.  `object` is an fd of that object (opened from
// /proc/PID/map_files/START-END); its swapped-out pages count as data, unlike
// in the page tables.
std::vector<PageRange> shmem_data_ranges(int object, const img::VmaEntry& vma);

}  // namespace ckpt::mem
