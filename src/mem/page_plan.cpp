#include "mem/page_plan.h"

#include "ckpt/error.h"

namespace ckpt::mem {

uint64_t PagePlan::add_area(const std::vector<PageRange>& ranges) {
  uint64_t added = 0;
  for (const PageRange& r : ranges) {
    if (r.end <= r.start || r.start % page_size_ || r.end % page_size_)
      throw Error(format("bad page range %llx-%llx", (unsigned long long)r.start, (unsigned long long)r.end));
    if (!ranges_.empty() && r.start < ranges_.back().end)
      throw Error(format("page range %llx-%llx is out of address order", (unsigned long long)r.start,
                         (unsigned long long)r.end));
    // nr_pages is 32 bits: 16 TiB in one run.
    if (r.size() / page_size_ > UINT32_MAX) throw Error("page range too long for one pagemap run");
    img::PagemapEntry run;
    run.set_vaddr(r.start);
    run.set_nr_pages(uint32_t(r.size() / page_size_));
    run.set_offset(bytes_);
    runs_.push_back(run);
    ranges_.push_back(r);
    bytes_ += r.size();
    added += r.size() / page_size_;
  }
  return added;
}

}  // namespace ckpt::mem
