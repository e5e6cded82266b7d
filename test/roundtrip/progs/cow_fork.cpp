// Private anonymous memory shared copy-on-write since fork, by three
// generations: the dump stores each shared page once (in the oldest image
// that has it) and the restore must give each process its own content.
//
//   parent  fills 64 MiB with pattern P (every 64th page a hole, never
//           touched); after the fork it rewrites pages kParentPages (Q):
//           its copies are new, the child keeps the old ones
//   child   rewrites pages kChildPages (C) before it forks (the last one
//           a hole until then: a page of its own)
//   grandchild  rewrites pages kGrandchildPages (G)
//
// So the child's pages are: C where it wrote, P elsewhere (kParentPages too:
// the originals, no longer the parent's); the grandchild's: G, then C, then
// P.  Its untouched pages are still the parent's and the child's frames: in
// the images they are the parent's, reached through the child's.  After the
// restore the parent checks itself, then asks the child, which checks
// itself and asks the grandchild; each ends 0 only if every byte is right.
// The pages none of them wrote since the fork must also still be the same
// physical pages in parent and child and in child and grandchild (the same
// frame in their pagemaps, which the kernel shows to root only: without
// CAP_SYS_ADMIN the check is skipped).
#include "mtlib.h"

#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <initializer_list>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = (64u << 20) / kPage;
constexpr size_t kParentPages[] = {7, 4000, 4001, 4002};
constexpr size_t kChildPages[] = {3, 1000, 1001, 8000, kPages - 1};
constexpr size_t kGrandchildPages[] = {5, 2000, 12000};

enum Who { kParent, kChild, kGrandchild };
const char* const kNames[] = {"parent", "child", "grandchild"};

bool is_hole(size_t page) { return page % 64 == 63; }

template <size_t N>
bool among(size_t page, const size_t (&pages)[N]) {
  for (size_t p : pages)
    if (p == page) return true;
  return false;
}

// The seed a page's words were written with in `who`, or 0 for a hole
// (the child's last page was one until it wrote there).
uint64_t seed_of(Who who, size_t page) {
  if (who == kParent && among(page, kParentPages)) return 0x51;
  if (who == kGrandchild && among(page, kGrandchildPages)) return 0x47;
  if (who != kParent && among(page, kChildPages)) return 0x43;
  return is_hole(page) ? 0 : 0x50;
}

uint64_t word(size_t page, size_t i, uint64_t seed) { return (page * 512 + i + 1) * 0x9e3779b97f4a7c15ull ^ seed; }

void fill_page(uint64_t* area, size_t page, uint64_t seed) {
  for (size_t i = 0; i < kPage / 8; i++) area[page * kPage / 8 + i] = word(page, i, seed);
}

void check(const uint64_t* area, Who who) {
  for (size_t page = 0; page < kPages; page++) {
    uint64_t seed = seed_of(who, page);
    for (size_t i = 0; i < kPage / 8; i++) {
      uint64_t want = seed ? word(page, i, seed) : 0;
      uint64_t got = area[page * kPage / 8 + i];
      RT_CHECK(got == want, "%s: page %zu word %zu is %016llx, want %016llx (seed %llx)", kNames[who], page, i,
               (unsigned long long)got, (unsigned long long)want, (unsigned long long)seed);
    }
  }
}


// The page frame of `page` of the area in `pid`'s pagemap (0: not present
// or hidden).
uint64_t frame_of(pid_t pid, const uint64_t* area, size_t page) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/pagemap", int(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  RT_CHECK(fd >= 0, "open %s", path);
  uint64_t e = 0;
  off_t at = off_t((reinterpret_cast<uintptr_t>(area) / kPage + page) * 8);
  RT_CHECK(pread(fd, &e, 8, at) == 8, "read %s", path);
  close(fd);
  return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

// Pages no process wrote since the fork: shared by all three.
constexpr size_t kUntouchedPages[] = {0, 100, 5000, 16000 - 2};

void check_shared(const uint64_t* area, pid_t me, pid_t other, const char* pair) {
  for (size_t p : kUntouchedPages) {
    uint64_t mine = frame_of(me, area, p), theirs = frame_of(other, area, p);
    if (mine == 0 || theirs == 0) continue;  // hidden (not root)
    RT_CHECK(mine == theirs, "%s: page %zu is no longer shared (frames %llx and %llx)", pair, p,
             (unsigned long long)mine, (unsigned long long)theirs);
  }
}

void await_ok(pid_t pid, const char* who) {
  int status = rt::await_child(pid, 120);
  RT_CHECK(status != -1, "the %s did not end within 120 s", who);
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the %s ended with status 0x%x", who, status);
}

[[noreturn]] void grandchild_main(uint64_t* area, pid_t child) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (size_t p : kGrandchildPages) fill_page(area, p, seed_of(kGrandchild, p));
  RT_CHECK(kill(child, SIGUSR1) == 0, "grandchild: signal the child");
  rt::await_signal(SIGUSR2, "word from the child", 120);
  check(area, kGrandchild);
  fflush(stdout);
  _exit(0);
}

[[noreturn]] void child_main(uint64_t* area, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (size_t p : kChildPages) fill_page(area, p, seed_of(kChild, p));
  pid_t me = getpid();
  fflush(stdout);
  pid_t grandchild = fork();
  RT_CHECK(grandchild >= 0, "child: fork");
  if (grandchild == 0) grandchild_main(area, me);
  rt::await_signal(SIGUSR1, "ready from the grandchild", 120);
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent", 120);
  check_shared(area, getpid(), grandchild, "child and grandchild");
  check(area, kChild);
  RT_CHECK(kill(grandchild, SIGUSR2) == 0, "child: signal the grandchild");
  await_ok(grandchild, "grandchild");
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});

  auto* area = static_cast<uint64_t*>(
      mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(area != MAP_FAILED, "mmap");
  for (size_t p = 0; p < kPages; p++)
    if (!is_hole(p)) fill_page(area, p, 0x50);
  pid_t me = getpid();
  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(area, me);
  rt::await_signal(SIGUSR1, "ready from the child", 120);
  // Copies of our own now; the child and grandchild keep the originals.
  for (size_t p : kParentPages) fill_page(area, p, seed_of(kParent, p));

  rt::ready();
  rt::wait_term();

  check_shared(area, getpid(), child, "parent and child");
  check(area, kParent);
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  await_ok(child, "child");
  rt::pass();
}
