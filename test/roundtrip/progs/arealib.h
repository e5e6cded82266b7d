// Helpers for the round trips of memory areas: what /proc/self/smaps says
// about the area holding an address, PAGEMAP_SCAN of guard pages, page
// patterns, and whether touching a page faults.
#pragma once

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "testlib.h"

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace rt {

inline constexpr size_t kPage = 4096;

// The smaps entry of the area holding `addr`: its bounds, its permissions
// ("rw-p") and its VmFlags words.
struct AreaInfo {
  uintptr_t start = 0, end = 0;
  std::string perms;
  std::vector<std::string> flags;
  bool has(const char* flag) const {
    for (const std::string& f : flags)
      if (f == flag) return true;
    return false;
  }
  std::string flag_text() const {
    std::string s;
    for (const std::string& f : flags) s += (s.empty() ? "" : " ") + f;
    return s;
  }
};

// Whether any area holds addr; fills `out`.
inline bool find_area(const void* addr, AreaInfo& out) {
  FILE* f = fopen("/proc/self/smaps", "re");
  RT_CHECK(f, "open /proc/self/smaps");
  char line[1024];
  bool in = false, found = false;
  uintptr_t a = uintptr_t(addr);
  while (fgets(line, sizeof(line), f)) {
    unsigned long s, e;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && strchr(line, '-') < strchr(line, ' ')) {
      if (found) break;
      in = a >= s && a < e;
      if (in) {
        out = {};
        out.start = s;
        out.end = e;
        out.perms = perms;
      }
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      char* save = nullptr;
      for (char* w = strtok_r(line + 8, " \n", &save); w; w = strtok_r(nullptr, " \n", &save)) out.flags.push_back(w);
      found = true;
    }
  }
  fclose(f);
  return found;
}

inline AreaInfo area_of(const void* addr, const char* what) {
  AreaInfo info;
  RT_CHECK(find_area(addr, info), "%s: no area holds %p", what, addr);
  return info;
}

// The word each page is filled with: distinct per page and per seed.
inline uint64_t pattern(size_t page, size_t word, uint64_t seed) {
  return (page * 512 + word + 1) * 0x9e3779b97f4a7c15ull ^ seed;
}

inline void fill_pages(void* base, size_t first, size_t n, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(base);
  for (size_t p = first; p < first + n; p++)
    for (size_t i = 0; i < kPage / 8; i++) w[p * kPage / 8 + i] = pattern(p, i, seed);
}

// Checks pages [first, first+n) hold the seed's pattern (seed 0: zeros).
inline void check_pages(const void* base, size_t first, size_t n, uint64_t seed, const char* what) {
  auto* w = static_cast<const uint64_t*>(base);
  for (size_t p = first; p < first + n; p++)
    for (size_t i = 0; i < kPage / 8; i++) {
      uint64_t want = seed ? pattern(p, i, seed) : 0, got = w[p * kPage / 8 + i];
      RT_CHECK(got == want, "%s: page %zu word %zu is %016llx, want %016llx", what, p, i, (unsigned long long)got,
               (unsigned long long)want);
    }
}

// Whether reading (or writing) the byte at `addr` raises SIGSEGV; the
// handler jumps back.
inline sigjmp_buf g_fault_jump;
inline void on_fault(int) { siglongjmp(g_fault_jump, 1); }
inline bool faults(volatile char* addr, bool write = false) {
  struct sigaction sa {}, old {};
  sa.sa_handler = on_fault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old);
  bool faulted = false;
  if (sigsetjmp(g_fault_jump, 1) == 0) {
    if (write)
      *addr = 1;
    else
      (void)*addr;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &old, nullptr);
  return faulted;
}

// PAGEMAP_SCAN (Linux 6.7) of the guard pages (PAGE_IS_GUARD, Linux 6.14)
// of [start, end): their ranges, as page indexes from start.  false if the
// kernel cannot tell.
struct PageRegion {
  uint64_t start, end, categories;
};
struct PmScanArg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, inverted, mask, anyof, return_mask;
};
inline bool guard_pages(const void* start, size_t len, std::vector<std::pair<size_t, size_t>>& out) {
  constexpr uint64_t kGuard = 1 << 8;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  RT_CHECK(fd >= 0, "open /proc/self/pagemap");
  PageRegion regions[256];
  uintptr_t base = uintptr_t(start), at = base, end = base + len;
  out.clear();
  while (at < end) {
    PmScanArg arg{sizeof(arg), 0, at, end, 0, uint64_t(uintptr_t(regions)), 256, 0, 0, kGuard, 0, kGuard};
    int n = ioctl(fd, _IOWR('f', 16, PmScanArg), &arg);
    if (n < 0) {
      close(fd);
      return false;
    }
    for (int i = 0; i < n; i++) out.push_back({(regions[i].start - base) / kPage, (regions[i].end - base) / kPage});
    at = arg.walk_end;
  }
  close(fd);
  return true;
}

}  // namespace rt
