// Where the restorer area goes and how it is laid out.  Header-only and pure
// (ranges in, addresses out) so that the unit tests exercise it directly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace ckpt::restore {

struct Range {
  uint64_t start = 0, end = 0;  // [start, end)
  bool operator<(const Range& o) const { return start < o.start || (start == o.start && end < o.end); }
};

inline uint64_t page_align_up(uint64_t v, uint64_t page = 4096) { return (v + page - 1) & ~(page - 1); }

// The highest address in [lo, hi) where `size` bytes fit without touching
// any of `busy`, keeping `margin` bytes clear on both sides (so that no stack
// guard gap of a neighbour is taken).  Busy ranges may overlap and come in
// any order.  nullopt if there is no such place.
inline std::optional<uint64_t> find_gap(std::vector<Range> busy, uint64_t size, uint64_t lo, uint64_t hi,
                                        uint64_t margin, uint64_t page = 4096) {
  if (size == 0 || hi <= lo) return std::nullopt;
  std::sort(busy.begin(), busy.end());
  // Walk the free intervals from the top down.
  std::vector<Range> merged;
  for (const Range& r : busy) {
    if (r.end <= r.start) continue;
    if (!merged.empty() && r.start <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  uint64_t free_end = hi;
  auto try_interval = [&](uint64_t free_start, uint64_t end) -> std::optional<uint64_t> {
    free_start = std::max(free_start, lo);
    if (end <= free_start) return std::nullopt;
    // Margins only against real neighbours, not against the search bounds.
    uint64_t top = end == hi ? end : (end > margin ? end - margin : 0);
    uint64_t bottom = free_start == lo ? free_start : free_start + margin;
    if (top < bottom || top - bottom < size) return std::nullopt;
    uint64_t addr = (top - size) & ~(page - 1);
    if (addr < bottom) return std::nullopt;
    return addr;
  };
  for (auto it = merged.rbegin(); it != merged.rend(); ++it) {
    if (it->end < free_end) {
      if (auto a = try_interval(it->end, free_end)) return a;
    }
    free_end = std::min(free_end, it->start);
    if (free_end <= lo) return std::nullopt;
  }
  return try_interval(lo, free_end);
}

// Offsets of the parts of the restorer area, each page-aligned.  The args
// come last: everything before them is known before they are built, so
// they can name addresses in the stacks and their own signal frames as
// offsets from the area's start.
struct AreaLayout {
  uint64_t blob_off = 0, blob_size = 0;
  uint64_t stack_off = 0, stack_size = 0;  // the main thread's, then one per other thread
  uint64_t park_off = 0, park_size = 0;    // vDSO parking
  uint64_t args_off = 0, args_size = 0;    // header and sections
  uint64_t total = 0;
};

inline AreaLayout plan_area(uint64_t blob_bytes, uint64_t stack_bytes, uint64_t park_bytes, uint64_t page = 4096) {
  AreaLayout l;
  l.blob_off = 0;
  l.blob_size = page_align_up(blob_bytes, page);
  l.stack_off = l.blob_off + l.blob_size;
  l.stack_size = page_align_up(stack_bytes, page);
  l.park_off = l.stack_off + l.stack_size;
  l.park_size = page_align_up(park_bytes, page);
  l.args_off = l.park_off + l.park_size;
  l.total = l.args_off;
  return l;
}

// The layout with the args' size known.
inline AreaLayout with_args(AreaLayout l, uint64_t args_bytes, uint64_t page = 4096) {
  l.args_size = page_align_up(args_bytes, page);
  l.total = l.args_off + l.args_size;
  return l;
}

// Splits runs longer than `max_len` so that one AIO request stays bounded
// (and several requests can be in flight).  Offsets follow the split.
struct PageRun {
  uint64_t vaddr, len, offset;
};
inline std::vector<PageRun> split_runs(const std::vector<PageRun>& runs, uint64_t max_len) {
  std::vector<PageRun> out;
  for (const PageRun& r : runs) {
    for (uint64_t done = 0; done < r.len; done += max_len) {
      uint64_t len = std::min(max_len, r.len - done);
      out.push_back({r.vaddr + done, len, r.offset + done});
    }
  }
  return out;
}

}  // namespace ckpt::restore
