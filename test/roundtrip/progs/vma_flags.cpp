// Area attributes that madvise() (or mmap) sets and /proc/PID/smaps shows in
// VmFlags: each on an area of its own, filled with its own data.  After the
// restore each area has its flag again (and a plain area none of them) and
// its data.
//
//   dc MADV_DONTFORK   dd MADV_DONTDUMP    wf MADV_WIPEONFORK
//   hg MADV_HUGEPAGE   nh MADV_NOHUGEPAGE  rr MADV_RANDOM   sr MADV_SEQUENTIAL
//   mg MADV_MERGEABLE (if the kernel has KSM)
//   dp MAP_DROPPABLE (Linux 6.11; a mapping type, with wf dd nr)
//   lf mlock2(MLOCK_ONFAULT) (with lo)   sl mseal (Linux 6.10)
#include <errno.h>
#include <sys/syscall.h>

#include "arealib.h"

namespace {

constexpr size_t kPages = 8;

// Not madvise() advice: made by mmap, mlock2 or mseal.
constexpr int kLockOnFault = -2, kSeal = -3;

struct Case {
  const char* flag;
  int advice;         // -1: none (the plain area, or mapped so); kLockOnFault, kSeal
  int map_type;       // MAP_PRIVATE or MAP_DROPPABLE
  const char* also;   // flags that come with it
  void* area = nullptr;
  bool made = false;  // the kernel took it
};

Case g_cases[] = {
    {"", -1, MAP_PRIVATE, ""},
    {"dc", MADV_DONTFORK, MAP_PRIVATE, ""},
    {"dd", MADV_DONTDUMP, MAP_PRIVATE, ""},
    {"wf", MADV_WIPEONFORK, MAP_PRIVATE, ""},
    {"hg", MADV_HUGEPAGE, MAP_PRIVATE, ""},
    {"nh", MADV_NOHUGEPAGE, MAP_PRIVATE, ""},
    {"rr", MADV_RANDOM, MAP_PRIVATE, ""},
    {"sr", MADV_SEQUENTIAL, MAP_PRIVATE, ""},
    {"mg", MADV_MERGEABLE, MAP_PRIVATE, ""},
    {"dp", -1, MAP_DROPPABLE, "wf dd"},
    {"lf", kLockOnFault, MAP_PRIVATE, "lo"},
    {"sl", kSeal, MAP_PRIVATE, ""},
};

const char* const kAllFlags[] = {"dc", "dd", "wf", "hg", "nh", "rr", "sr", "mg", "dp", "lo", "lf", "sl"};

// Whether a case's area must show `flag`.
bool wanted(const Case& c, const char* flag) {
  if (!strcmp(flag, c.flag)) return true;
  std::string also = std::string(" ") + c.also + " ";
  return also.find(std::string(" ") + flag + " ") != std::string::npos;
}

// Applies what is not advice; 0 or an errno.
int apply_other(const Case& c, void* a) {
  long r = 0;
  if (c.advice == kLockOnFault) r = syscall(SYS_mlock2, a, kPages * rt::kPage, 1 /* MLOCK_ONFAULT */);
  if (c.advice == kSeal) r = syscall(462 /* mseal */, a, kPages * rt::kPage, 0);
  return r == 0 ? 0 : errno;
}

uint64_t seed_of(size_t i) { return 0x1000 + i; }

void setup(size_t i) {
  Case& c = g_cases[i];
  // A page of nothing on each side, so no neighbour merges with the area.
  char* hole = static_cast<char*>(mmap(nullptr, (kPages + 2) * rt::kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(hole != MAP_FAILED, "mmap");
  void* a = mmap(hole + rt::kPage, kPages * rt::kPage, PROT_READ | PROT_WRITE, c.map_type | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0);
  if (a == MAP_FAILED) {
    RT_CHECK(c.map_type == MAP_DROPPABLE, "mmap of the %s area: %s", c.flag, strerror(errno));
    printf("MAP_DROPPABLE not supported here (%s): not tested\n", strerror(errno));
    return;
  }
  if (c.advice < -1) {
    // Filled first: a sealed area's pages stay, a locked one's are locked.
    rt::fill_pages(a, 0, kPages, seed_of(i));
    if (int err = apply_other(c, a)) {
      RT_CHECK(err == ENOSYS || err == EPERM || err == ENOMEM, "%s: %s", c.flag, strerror(err));
      printf("%s not supported here (%s): not tested\n", c.flag, strerror(err));
      if (c.advice != kSeal) munmap(a, kPages * rt::kPage);
      return;
    }
    c.area = a;
    c.made = true;
    return;
  }
  if (c.advice >= 0 && madvise(a, kPages * rt::kPage, c.advice) != 0) {
    RT_CHECK(c.advice == MADV_MERGEABLE || c.advice == MADV_HUGEPAGE, "madvise %s: %s", c.flag, strerror(errno));
    printf("madvise for %s not supported here (%s): not tested\n", c.flag, strerror(errno));
    munmap(a, kPages * rt::kPage);
    return;
  }
  rt::fill_pages(a, 0, kPages, seed_of(i));
  c.area = a;
  c.made = true;
}

void check(size_t i, const char* when) {
  Case& c = g_cases[i];
  if (!c.made) return;
  char what[64];
  snprintf(what, sizeof(what), "%s: the %s area", when, *c.flag ? c.flag : "plain");
  rt::AreaInfo info = rt::area_of(c.area, what);
  RT_CHECK(info.start == uintptr_t(c.area) && info.end == uintptr_t(c.area) + kPages * rt::kPage,
           "%s is %lx-%lx, want %p + %zu pages", what, (unsigned long)info.start, (unsigned long)info.end, c.area,
           kPages);
  RT_CHECK(info.perms == "rw-p", "%s has permissions %s", what, info.perms.c_str());
  for (const char* f : kAllFlags) {
    bool want = wanted(c, f);
    RT_CHECK(info.has(f) == want, "%s %s VmFlag %s (VmFlags: %s)", what, want ? "lacks" : "has", f,
             info.flag_text().c_str());
  }
  rt::check_pages(c.area, 0, kPages, seed_of(i), what);
  // A sealed area cannot be unmapped or made read-only.
  if (c.advice == kSeal) {
    errno = 0;
    RT_CHECK(mprotect(c.area, kPages * rt::kPage, PROT_READ) == -1 && errno == EPERM,
             "%s: mprotect of a sealed area gave %s", what, errno ? strerror(errno) : "success");
  }
}

}  // namespace

int main() {
  rt::block_term();
  for (size_t i = 0; i < sizeof(g_cases) / sizeof(g_cases[0]); i++) setup(i);
  for (size_t i = 0; i < sizeof(g_cases) / sizeof(g_cases[0]); i++) check(i, "before");
  rt::ready();
  rt::wait_term();
  for (size_t i = 0; i < sizeof(g_cases) / sizeof(g_cases[0]); i++) check(i, "after");
  rt::pass();
}
