// Memory shared copy-on-write since fork by a parent and its child whose
// areas no longer match: the child split one (munmap of its middle, the
// last part made read-only), the parent cut the start of another, and both
// wrote pages of a third.  After the restore each process has exactly its
// own content and protections, and the pages neither wrote are still shared
// where the child's area lies inside one area of the parent's (checked as
// root; the area whose start the parent cut comes back as the child's own
// copy).  A page of nothing between the areas keeps them apart.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "arealib.h"
#include "mtlib.h"

namespace {

constexpr size_t kPages = 1024;  // 4 MiB per area
constexpr uint64_t kSeed = 0xc0, kParentSeed = 0xd0, kChildSeed = 0xe0;
char* g_area[3];

uint64_t frame_of(pid_t pid, const void* addr) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/pagemap", int(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  RT_CHECK(fd >= 0, "open %s", path);
  uint64_t e = 0;
  RT_CHECK(pread(fd, &e, 8, off_t(reinterpret_cast<uintptr_t>(addr) / rt::kPage * 8)) == 8, "read %s", path);
  close(fd);
  return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

// What each process did after the fork.
void child_changes() {
  RT_CHECK(munmap(g_area[0] + 256 * rt::kPage, 256 * rt::kPage) == 0, "munmap");
  RT_CHECK(mprotect(g_area[0] + 768 * rt::kPage, 256 * rt::kPage, PROT_READ) == 0, "mprotect");
  rt::fill_pages(g_area[2], 600, 100, kChildSeed);
}
void parent_changes() {
  RT_CHECK(munmap(g_area[1], 128 * rt::kPage) == 0, "munmap");
  rt::fill_pages(g_area[2], 0, 500, kParentSeed);
}

void check(bool child, const char* who) {
  char what[64];
  snprintf(what, sizeof(what), "%s: area 0", who);
  if (child) {
    rt::check_pages(g_area[0], 0, 256, kSeed, what);
    rt::AreaInfo hole;
    RT_CHECK(!rt::find_area(g_area[0] + 256 * rt::kPage, hole), "%s: the unmapped middle is mapped", what);
    rt::check_pages(g_area[0], 512, 512, kSeed, what);
    RT_CHECK(rt::area_of(g_area[0] + 800 * rt::kPage, what).perms == "r--p", "%s: the end is not read-only", what);
  } else {
    rt::check_pages(g_area[0], 0, kPages, kSeed, what);
  }
  snprintf(what, sizeof(what), "%s: area 1", who);
  if (child) {
    rt::check_pages(g_area[1], 0, kPages, kSeed, what);
  } else {
    rt::AreaInfo cut;
    RT_CHECK(!rt::find_area(g_area[1], cut) || cut.start >= uintptr_t(g_area[1] + 128 * rt::kPage),
             "%s: the cut start is mapped", what);
    rt::check_pages(g_area[1], 128, kPages - 128, kSeed, what);
  }
  snprintf(what, sizeof(what), "%s: area 2", who);
  if (child) {
    rt::check_pages(g_area[2], 0, 300, kSeed, what);
    rt::check_pages(g_area[2], 300, 10, 0, what);
    rt::check_pages(g_area[2], 310, 190, kSeed, what);
  } else {
    rt::check_pages(g_area[2], 0, 500, kParentSeed, what);
  }
  rt::check_pages(g_area[2], 500, 100, kSeed, what);
  rt::check_pages(g_area[2], 600, 100, child ? kChildSeed : kSeed, what);
  rt::check_pages(g_area[2], 700, kPages - 700, kSeed, what);
}

void check_shared(pid_t child) {
  for (const char* page : {g_area[0], g_area[0] + 900 * rt::kPage, g_area[2] + 550 * rt::kPage}) {
    uint64_t mine = frame_of(getpid(), page), theirs = frame_of(child, page);
    if (mine && theirs) RT_CHECK(mine == theirs, "the page at %p is no longer shared", page);
  }
}

[[noreturn]] void child_main(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  child_changes();
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent", 120);
  check(true, "child");
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});
  auto* all = static_cast<char*>(
      mmap(nullptr, 3 * (kPages + 1) * rt::kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  RT_CHECK(all != MAP_FAILED, "mmap");
  for (size_t i = 0; i < 3; i++) {
    char*& a = g_area[i];
    a = static_cast<char*>(mmap(all + i * (kPages + 1) * rt::kPage, kPages * rt::kPage, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    RT_CHECK(a != MAP_FAILED, "mmap");
    madvise(a, kPages * rt::kPage, MADV_NOHUGEPAGE);  // 4 KiB pages: each can be shared or not
    // Area 2 has a hole the parent writes after the fork: the child's
    // stays zero.
    if (i == 2) {
      rt::fill_pages(a, 0, 300, kSeed);
      rt::fill_pages(a, 310, kPages - 310, kSeed);
    } else {
      rt::fill_pages(a, 0, kPages, kSeed);
    }
  }
  pid_t me = getpid();
  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(me);
  rt::await_signal(SIGUSR1, "ready from the child", 120);
  parent_changes();
  check(false, "parent");

  rt::ready();
  rt::wait_term();

  check_shared(child);
  check(false, "parent");
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = rt::await_child(child, 120);
  RT_CHECK(status != -1, "the child did not end within 120 s");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  rt::pass();
}
