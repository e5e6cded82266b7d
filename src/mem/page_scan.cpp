#include "mem/page_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/pagemap_uapi.h"
#include "mem/shmem.h"
#include "proc/read.h"

namespace ckpt::mem {

namespace {

// Regions per ioctl; the scan resumes from walk_end when they are used up.
constexpr size_t kRegionsPerCall = 512;

void append_merged(std::vector<PageRange>& ranges, uint64_t start, uint64_t end) {
  if (!ranges.empty() && ranges.back().end == start)
    ranges.back().end = end;
  else
    ranges.push_back({start, end});
}

}  // namespace

PagemapScanner::PagemapScanner(pid_t pid) : pid_(pid) {
  std::string path = proc::path(pid, "pagemap");
  pagemap_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap_) throw sys_error("cannot open " + path);
}

// A region is selected when, after inverting the `inverted` categories, it
// has every `required` one and one of `anyof` (any, if 0); the `reported`
// categories come back with it, and only regions alike in them merge.
PagemapScanner::Categories PagemapScanner::categories_for(PageSource source) const {
  uint64_t guard = sees_guards_ ? PAGE_IS_GUARD : 0;
  // Only guard pages: the area's pages are saved elsewhere, or not at all.
  if (source != PageSource::Anon && source != PageSource::PrivateFile) return {0, guard, 0, guard};
  // Never the shared zero page: a read fault maps it, it holds nothing.
  // Guard pages are not present; the kernel counts them as swapped as well.
  Categories c{PAGE_IS_PFNZERO, PAGE_IS_PFNZERO, PAGE_IS_PRESENT | PAGE_IS_SWAPPED | guard, guard};
  // A private file page still in the page cache is the file's: the restore
  // maps the file.  Pages copied on write are anonymous.
  if (source == PageSource::PrivateFile) {
    c.inverted |= PAGE_IS_FILE;
    c.required |= PAGE_IS_FILE;
  }
  return c;
}

bool PagemapScanner::run(uint64_t start, uint64_t end, const Categories& c, AreaScan& out) {
  page_region regions[kRegionsPerCall];
  uint64_t at = start;
  while (at < end) {
    pm_scan_arg arg{};
    arg.size = sizeof(arg);
    arg.start = at;
    arg.end = end;
    arg.vec = reinterpret_cast<uint64_t>(regions);
    arg.vec_len = kRegionsPerCall;
    arg.category_inverted = c.inverted;
    arg.category_mask = c.required;
    arg.category_anyof_mask = c.anyof;
    // Present and swapped pages are not told apart: adjacent ones merge
    // into one region.
    arg.return_mask = c.reported;
    int n = ioctl(pagemap_.get(), PAGEMAP_SCAN, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && (c.reported & PAGE_IS_GUARD)) return false;
      if (errno == ENOTTY || errno == EINVAL)
        throw sys_error(format("cannot scan the pages of pid %d: PAGEMAP_SCAN (Linux 6.7) failed", pid_));
      throw sys_error(format("cannot scan the pages of pid %d at %llx", pid_, (unsigned long long)at));
    }
    for (int i = 0; i < n; ++i)
      append_merged(regions[i].categories & PAGE_IS_GUARD ? out.guards : out.pages, regions[i].start, regions[i].end);
    if (arg.walk_end <= at) throw Error(format("PAGEMAP_SCAN of pid %d made no progress at %llx", pid_,
                                               (unsigned long long)at));
    at = arg.walk_end;
  }
  return true;
}

AreaScan PagemapScanner::scan_area(uint64_t start, uint64_t end, PageSource source) {
  AreaScan out;
  Categories c = categories_for(source);
  if (!c.required && !c.anyof) return out;  // nothing to look for
  if (run(start, end, c, out)) return out;
  // A kernel before 6.14: it cannot tell guard pages (it counts them as
  // swapped, and their transfer fails).
  LOG_INFO("pid %d: PAGEMAP_SCAN does not report guard pages on this kernel (Linux 6.14)", pid_);
  sees_guards_ = false;
  out = {};
  c = categories_for(source);
  if ((c.required || c.anyof) && !run(start, end, c, out))
    throw Error(format("cannot scan the pages of pid %d: PAGEMAP_SCAN refused its categories", pid_));
  return out;
}

std::vector<PageRange> shmem_data_ranges(int object, const img::VmaEntry& vma) {
  const uint64_t first = vma.pgoff(), last = vma.pgoff() + (vma.end() - vma.start());
  std::vector<PageRange> ranges;
  for (const PageRange& r : file_data_ranges(object, first, last, uint64_t(sysconf(_SC_PAGESIZE)),
                                             format("the shared memory at %llx", (unsigned long long)vma.start())))
    append_merged(ranges, vma.start() + (r.start - first), vma.start() + (std::min(r.end, last) - first));
  return ranges;
}

}  // namespace ckpt::mem
