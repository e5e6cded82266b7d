#include "mem/shared_pages.h"

#include <algorithm>

namespace ckpt::mem {

namespace {

// Pages read from each pagemap at once: 256 KiB of entries, 128 MiB of
// memory with 4 KiB pages.
constexpr uint64_t kFramesPerRead = 32768;

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

void SharedWithParent::split_chunk(uint64_t start, uint64_t end, std::vector<PagePiece>& out) {
  child_.read(start, end, before_);
  parent_.read(start, end, theirs_);
  child_.read(start, end, after_);
  shared_pages_ += split_by_frames(start, before_.size(), before_.data(), theirs_.data(), after_.data(),
                                   parent_pages_, page_size_, out);
  hidden_frames_ += uint64_t(std::count_if(before_.begin(), before_.end(), frame_hidden));
}

std::vector<PagePiece> SharedWithParent::split(const std::vector<PageRange>& ranges) {
  std::vector<PagePiece> out;
  for (const PageRange& r : ranges)
    for (uint64_t at = r.start; at < r.end; at = std::min(r.end, at + kFramesPerRead * page_size_))
      split_chunk(at, std::min(r.end, at + kFramesPerRead * page_size_), out);
  return out;
}

}  // namespace ckpt::mem
