// Guard pages (MADV_GUARD_INSTALL, Linux 6.13) in the middle and at the ends
// of areas whose other pages hold data: after the restore PAGEMAP_SCAN shows
// the same guard pages (PAGE_IS_GUARD, Linux 6.14), touching one still
// raises SIGSEGV, the areas are not split, and every other page has its
// data.  A read-only area and a private file mapping (file-backed guards,
// Linux 6.15) have guards too, where the kernel allows them.
#include <errno.h>

#include <utility>
#include <vector>

#include "arealib.h"

namespace {

constexpr size_t kPages = 64;
using Ranges = std::vector<std::pair<size_t, size_t>>;  // [first, end) pages

struct Area {
  const char* name = "";
  char* base = nullptr;
  size_t pages = 0;
  Ranges guards;
  int prot = PROT_READ | PROT_WRITE;
  uint64_t seed = 0;      // 0: a file mapping, its bytes are the file's
  std::vector<char> file;  // the file's first bytes, for a file mapping
};

std::vector<Area> g_areas;

bool in_guard(const Area& a, size_t page) {
  for (auto [first, end] : a.guards)
    if (page >= first && page < end) return true;
  return false;
}

bool install(Area& a) {
  for (auto [first, end] : a.guards)
    if (madvise(a.base + first * rt::kPage, (end - first) * rt::kPage, MADV_GUARD_INSTALL) != 0) return false;
  return true;
}

void anon_area(const char* name, Ranges guards, int prot, uint64_t seed) {
  Area a;
  a.name = name;
  a.pages = kPages;
  a.guards = std::move(guards);
  a.prot = prot;
  a.seed = seed;
  // Between two PROT_NONE pages of its own: the kernel merges a new area
  // with a neighbour of the same kind regardless of its guard pages ("gu" is
  // ignored for merging), so where this area lands next to another one
  // depends on the layout, and a restore may merge what the dump had apart.
  char* reserve = static_cast<char*>(
      mmap(nullptr, (kPages + 2) * rt::kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(reserve != MAP_FAILED, "mmap");
  a.base = static_cast<char*>(mmap(reserve + rt::kPage, kPages * rt::kPage, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  RT_CHECK(a.base == reserve + rt::kPage, "mmap");
  rt::fill_pages(a.base, 0, kPages, seed);
  if (!install(a)) {
    RT_CHECK(errno == EINVAL, "MADV_GUARD_INSTALL on %s: %s", name, strerror(errno));
    printf("SKIP: MADV_GUARD_INSTALL is not supported here\n");
    rt::pass();
  }
  RT_CHECK(mprotect(a.base, kPages * rt::kPage, prot) == 0, "mprotect");
  g_areas.push_back(std::move(a));
}

// The test's own binary, mapped privately: guards on a file mapping.
void file_area() {
  Area a;
  a.name = "file";
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  RT_CHECK(fd >= 0, "open /proc/self/exe");
  a.pages = 4;
  a.guards = {{1, 2}};
  a.prot = PROT_READ;
  a.base = static_cast<char*>(mmap(nullptr, a.pages * rt::kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  RT_CHECK(a.base != MAP_FAILED, "mmap of the binary");
  a.file.resize(a.pages * rt::kPage);
  RT_CHECK(pread(fd, a.file.data(), a.file.size(), 0) == ssize_t(a.file.size()), "read the binary");
  close(fd);
  if (!install(a)) {
    printf("guard pages on a file mapping are not supported here (%s): not tested\n", strerror(errno));
    munmap(a.base, a.pages * rt::kPage);
    return;
  }
  g_areas.push_back(std::move(a));
}

void check(const Area& a, const char* when) {
  char what[96];
  snprintf(what, sizeof(what), "%s: the %s area", when, a.name);
  rt::AreaInfo info = rt::area_of(a.base, what);
  RT_CHECK(info.start <= uintptr_t(a.base) && info.end >= uintptr_t(a.base + a.pages * rt::kPage),
           "%s is split: %lx-%lx holds its start %p", what, (unsigned long)info.start, (unsigned long)info.end, a.base);
  Ranges seen;
  if (rt::guard_pages(a.base, a.pages * rt::kPage, seen))
    RT_CHECK(seen == a.guards, "%s: PAGEMAP_SCAN shows %zu guard ranges (the first at page %zu), want %zu", what,
             seen.size(), seen.empty() ? size_t(0) : seen[0].first, a.guards.size());
  for (size_t p = 0; p < a.pages; p++) {
    volatile char* at = a.base + p * rt::kPage;
    if (in_guard(a, p)) {
      RT_CHECK(rt::faults(at), "%s: reading guard page %zu does not fault", what, p);
      if (a.prot & PROT_WRITE) RT_CHECK(rt::faults(at + 8, true), "%s: writing guard page %zu does not fault", what, p);
      continue;
    }
    if (a.seed) {
      rt::check_pages(a.base, p, 1, a.seed, what);
    } else {
      RT_CHECK(memcmp(a.base + p * rt::kPage, a.file.data() + p * rt::kPage, rt::kPage) == 0,
               "%s: page %zu differs from the file", what, p);
    }
  }
}

void check_all(const char* when) {
  for (const Area& a : g_areas) check(a, when);
}

}  // namespace

int main() {
  rt::block_term();
  anon_area("middle", {{5, 6}, {20, 23}, {40, 41}}, PROT_READ | PROT_WRITE, 0x6d);
  anon_area("ends", {{0, 1}, {kPages - 2, kPages}}, PROT_READ | PROT_WRITE, 0x65);
  anon_area("read-only", {{10, 12}}, PROT_READ, 0x72);
  file_area();
  check_all("before");
  rt::ready();
  rt::wait_term();
  check_all("after");
  rt::pass();
}
