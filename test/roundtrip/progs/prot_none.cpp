// Areas written, then made unreadable: PROT_NONE, write-only, exec-only, and
// a large area with one PROT_NONE page every MiB (the peer's case, smaller).
// The dump must read their pages without changing them (and, with
// --leave-running, leave the original as it was); after the restore each
// part has its protection (maps perms, a fault on touching a PROT_NONE page)
// and, made readable again by the test, its data.
#include "arealib.h"

namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kPagesPerMiB = kMiB / rt::kPage;

struct Part {
  const char* name;
  char* base;
  size_t first, pages;  // the part: pages [first, first+pages) of base
  int prot;
  const char* perms;
  uint64_t seed;
};

std::vector<Part> g_parts;
size_t g_big_mib = 64;
char* g_big = nullptr;

char* written_area(size_t pages, uint64_t seed) {
  auto* a = static_cast<char*>(mmap(nullptr, pages * rt::kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(a != MAP_FAILED, "mmap of %zu pages", pages);
  rt::fill_pages(a, 0, pages, seed);
  return a;
}

void whole(const char* name, size_t pages, int prot, const char* perms, uint64_t seed) {
  char* a = written_area(pages, seed);
  RT_CHECK(mprotect(a, pages * rt::kPage, prot) == 0, "mprotect %s", name);
  g_parts.push_back({name, a, 0, pages, prot, perms, seed});
}

// One PROT_NONE page at the start of every MiB, the rest read-write.
void every_mib() {
  const uint64_t seed = 0xb16;
  g_big = written_area(g_big_mib * kPagesPerMiB, seed);
  for (size_t m = 0; m < g_big_mib; m++) {
    RT_CHECK(mprotect(g_big + m * kMiB, rt::kPage, PROT_NONE) == 0, "mprotect MiB %zu", m);
    g_parts.push_back({"every-MiB (PROT_NONE page)", g_big, m * kPagesPerMiB, 1, PROT_NONE, "---p", seed});
    g_parts.push_back({"every-MiB (read-write)", g_big, m * kPagesPerMiB + 1, kPagesPerMiB - 1,
                       PROT_READ | PROT_WRITE, "rw-p", seed});
  }
}

void check_protection(const Part& p, const char* when) {
  char* start = p.base + p.first * rt::kPage;
  char what[96];
  snprintf(what, sizeof(what), "%s: the %s part at %p", when, p.name, start);
  rt::AreaInfo info = rt::area_of(start, what);
  // Alike neighbours may merge with it: it lies inside one area.
  RT_CHECK(info.start <= uintptr_t(start) && info.end >= uintptr_t(start + p.pages * rt::kPage),
           "%s is split: the area %lx-%lx holds its start, want %zu pages", what, (unsigned long)info.start,
           (unsigned long)info.end, p.pages);
  RT_CHECK(info.perms == p.perms, "%s has perms %s, want %s", what, info.perms.c_str(), p.perms);
  if (p.prot == PROT_NONE) {
    RT_CHECK(rt::faults(start), "%s: reading does not fault", what);
    RT_CHECK(rt::faults(start + 16, true), "%s: writing does not fault", what);
  }
}

// Made readable for the check, then back as it was.
void check_data(const Part& p, const char* when) {
  char* start = p.base + p.first * rt::kPage;
  char what[96];
  snprintf(what, sizeof(what), "%s: the %s part at %p", when, p.name, start);
  if (!(p.prot & PROT_READ)) RT_CHECK(mprotect(start, p.pages * rt::kPage, p.prot | PROT_READ) == 0, "mprotect");
  rt::check_pages(p.base, p.first, p.pages, p.seed, what);
  if (!(p.prot & PROT_READ)) RT_CHECK(mprotect(start, p.pages * rt::kPage, p.prot) == 0, "mprotect back");
}

void check_all(const char* when) {
  for (const Part& p : g_parts) check_protection(p, when);
  for (const Part& p : g_parts) check_data(p, when);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_big_mib = size_t(atoi(argv[1]));  // scripts/bench.sh: 512
  rt::block_term();
  whole("PROT_NONE", 16, PROT_NONE, "---p", 0x4e);
  whole("write-only", 16, PROT_WRITE, "-w-p", 0x57);
  whole("exec-only", 16, PROT_EXEC, "--xp", 0x58);
  whole("read-exec", 4, PROT_READ | PROT_EXEC, "r-xp", 0x52);
  every_mib();
  check_all("before");
  rt::ready();
  rt::wait_term();
  check_all("after");
  rt::pass();
}
