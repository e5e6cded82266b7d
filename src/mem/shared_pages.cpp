#include "mem/shared_pages.h"

#include <algorithm>

namespace ckpt::mem {

namespace {

// Pages read from each pagemap at once: 256 KiB of entries, 128 MiB of
// memory with 4 KiB pages.
constexpr uint64_t kFramesPerRead = 32768;
// Ranges this close share a read: a few entries too many rather than a
// pread each (4 KiB of entries).
constexpr uint64_t kMaxGapPages = 512;

// Appends one page's piece, extending the last piece where it continues.
void append_page(std::vector<PagePiece>& out, uint64_t vaddr, std::optional<PageLocation> in, uint64_t page_size) {
  if (!out.empty()) {
    PagePiece& last = out.back();
    bool next = last.range.end == vaddr && last.in.has_value() == in.has_value() &&
                (!in || (last.in->pages_id == in->pages_id && last.in->offset + last.range.size() == in->offset));
    if (next) {
      last.range.end += page_size;
      return;
    }
  }
  out.push_back({{vaddr, vaddr + page_size}, in});
}

}  // namespace

DumpedPages::DumpedPages(const PagePlan& plan, uint32_t pages_id, uint64_t page_size) {
  runs_.reserve(plan.runs().size());
  for (const img::PagemapEntry& r : plan.runs()) {
    uint32_t id = r.has_in_pages_id() ? r.in_pages_id() : pages_id;
    runs_.push_back({r.vaddr(), r.vaddr() + uint64_t(r.nr_pages()) * page_size, {id, r.offset()}});
  }
}

std::optional<PageLocation> DumpedPages::find(uint64_t vaddr) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), vaddr, [](uint64_t v, const Run& r) { return v < r.start; });
  if (it == runs_.begin()) return std::nullopt;
  --it;
  if (vaddr >= it->end) return std::nullopt;
  return PageLocation{it->at.pages_id, it->at.offset + (vaddr - it->start)};
}

uint64_t split_by_frames(uint64_t start, size_t n, const uint64_t* child, const uint64_t* parent,
                         const uint64_t* child_again, const DumpedPages& parent_pages, uint64_t page_size,
                         std::vector<PagePiece>& out) {
  uint64_t shared = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t vaddr = start + i * page_size;
    std::optional<PageLocation> in;
    // The child's page held still around the parent's read: the parent
    // mapped that very page at that moment (a frame freed and reused in
    // between cannot pass for it).
    if (same_frame(child[i], parent[i]) && child_again[i] == child[i]) in = parent_pages.find(vaddr);
    shared += in.has_value();
    append_page(out, vaddr, in, page_size);
  }
  return shared;
}

SharedWithParent::SharedWithParent(pid_t child, pid_t parent, const DumpedPages& parent_pages, uint64_t page_size)
    : child_(child, page_size), parent_(parent, page_size), parent_pages_(parent_pages), page_size_(page_size) {}

std::vector<PageRange> pagemap_reads(const std::vector<PageRange>& ranges, uint64_t max_span, uint64_t max_gap) {
  std::vector<PageRange> reads;
  for (const PageRange& r : ranges) {
    for (uint64_t at = r.start; at < r.end;) {
      bool joins = !reads.empty() && at - reads.back().end <= max_gap && at < reads.back().start + max_span;
      if (!joins) reads.push_back({at, at});
      PageRange& read = reads.back();
      read.end = std::min(r.end, read.start + max_span);
      at = read.end;
    }
  }
  return reads;
}

void SharedWithParent::read_frames(const PageRange& read) {
  child_.read(read.start, read.end, before_);
  parent_.read(read.start, read.end, theirs_);
  child_.read(read.start, read.end, after_);
}

void SharedWithParent::split_read(const PageRange& read, const PageRange& part, std::vector<PagePiece>& out) {
  size_t at = (part.start - read.start) / page_size_, n = part.size() / page_size_;
  shared_pages_ += split_by_frames(part.start, n, before_.data() + at, theirs_.data() + at, after_.data() + at,
                                   parent_pages_, page_size_, out);
  hidden_frames_ += uint64_t(std::count_if(before_.begin() + at, before_.begin() + at + n, frame_hidden));
}

std::vector<PagePiece> SharedWithParent::split(const std::vector<PageRange>& ranges) {
  std::vector<PagePiece> out;
  size_t ri = 0;
  for (const PageRange& read : pagemap_reads(ranges, kFramesPerRead * page_size_, kMaxGapPages * page_size_)) {
    read_frames(read);
    while (ri < ranges.size() && ranges[ri].start < read.end) {
      split_read(read, {std::max(ranges[ri].start, read.start), std::min(ranges[ri].end, read.end)}, out);
      if (ranges[ri].end > read.end) break;  // it goes on in the next read
      ri++;
    }
  }
  return out;
}

}  // namespace ckpt::mem
