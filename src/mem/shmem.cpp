#include "mem/shmem.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "ckpt/error.h"

namespace ckpt::mem {

void add_range(std::vector<PageRange>& set, PageRange r) {
  if (r.start >= r.end) return;
  // The first range that ends at or after r.start may merge with r; so may
  // every one after it that starts at or before r.end.
  auto first = std::lower_bound(set.begin(), set.end(), r.start,
                                [](const PageRange& x, uint64_t at) { return x.end < at; });
  auto last = first;
  while (last != set.end() && last->start <= r.end) {
    r.start = std::min(r.start, last->start);
    r.end = std::max(r.end, last->end);
    ++last;
  }
  first = set.erase(first, last);
  set.insert(first, r);
}

std::vector<PageRange> intersect(const std::vector<PageRange>& a, const std::vector<PageRange>& b) {
  std::vector<PageRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    uint64_t start = std::max(a[i].start, b[j].start), end = std::min(a[i].end, b[j].end);
    if (start < end) add_range(out, {start, end});
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return out;
}

PageRange page_align(PageRange r, uint64_t page) {
  return {r.start & ~(page - 1), (r.end + page - 1) & ~(page - 1)};
}

std::vector<PageRange> file_data_ranges(int fd, uint64_t from, uint64_t to, uint64_t page, const std::string& what) {
  std::vector<PageRange> ranges;
  uint64_t at = from;
  while (at < to) {
    off_t data = lseek(fd, off_t(at), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data after `at`
      throw sys_error("cannot find the data of " + what);
    }
    if (uint64_t(data) >= to) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) throw sys_error("cannot find the holes of " + what);
    PageRange r = page_align({uint64_t(data), std::min(to, uint64_t(hole))}, page);
    r.start = std::max(r.start, from & ~(page - 1));
    add_range(ranges, r);
    at = std::max(r.end, at + 1);
  }
  return ranges;
}

std::optional<std::string> memfd_name(const std::string& file_name) {
  constexpr std::string_view kPrefix = "/memfd:";
  if (!file_name.starts_with(kPrefix)) return std::nullopt;
  return file_name.substr(kPrefix.size());
}

std::optional<int32_t> sysv_key(const std::string& file_name) {
  constexpr std::string_view kPrefix = "/SYSV";
  if (!file_name.starts_with(kPrefix) || file_name.size() != kPrefix.size() + 8) return std::nullopt;
  uint32_t key = 0;
  for (char c : file_name.substr(kPrefix.size())) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    key = key << 4 | uint32_t(v);
  }
  return int32_t(key);
}

std::string ghost_alternative(const std::string& path, int n) { return format("%s.ckpt-ghost-%d", path.c_str(), n); }

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::vector<std::string> deleted_dir_paths(const std::string& path, int deleted_parents) {
  std::vector<std::string> out{path};
  for (int i = 0; i < deleted_parents && out.back() != "/"; i++) out.push_back(parent_dir(out.back()));
  return out;
}

}  // namespace ckpt::mem
