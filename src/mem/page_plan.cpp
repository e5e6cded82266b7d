#include "mem/page_plan.h"

#include "ckpt/error.h"

namespace ckpt::mem {

img::PagemapEntry& PagePlan::append_run(const PageRange& r) {
  if (r.end <= r.start || r.start % page_size_ || r.end % page_size_)
    throw Error(format("bad page range %llx-%llx", (unsigned long long)r.start, (unsigned long long)r.end));
  if (!runs_.empty() && r.start < end_)
    throw Error(format("page range %llx-%llx is out of address order", (unsigned long long)r.start,
                       (unsigned long long)r.end));
  // nr_pages is 32 bits: 16 TiB in one run.
  if (r.size() / page_size_ > UINT32_MAX) throw Error("page range too long for one pagemap run");
  img::PagemapEntry& run = runs_.emplace_back();
  run.set_vaddr(r.start);
  run.set_nr_pages(uint32_t(r.size() / page_size_));
  end_ = r.end;
  return run;
}

uint64_t PagePlan::add_area(const std::vector<PageRange>& ranges) {
  std::vector<PagePiece> own;
  own.reserve(ranges.size());
  for (const PageRange& r : ranges) own.push_back({r, std::nullopt});
  return add_pieces(own);
}

uint64_t PagePlan::add_pieces(const std::vector<PagePiece>& pieces) {
  uint64_t added = 0;
  for (const PagePiece& p : pieces) {
    img::PagemapEntry& run = append_run(p.range);
    uint64_t pages = p.range.size() / page_size_;
    if (p.in) {
      run.set_in_pages_id(p.in->pages_id);
      run.set_offset(p.in->offset);
      shared_pages_ += pages;
    } else {
      run.set_offset(bytes_);
      ranges_.push_back(p.range);
      bytes_ += p.range.size();
    }
    added += pages;
  }
  return added;
}

}  // namespace ckpt::mem
