// MAP_SHARED|MAP_ANONYMOUS memory shared by a parent and its child, across
// the round trip.  Region R (16 pages) is mapped before the fork:
//   page 0   the handshake: a phase word both wait on (shared futex)
//   page 1   written by the parent before the dump
//   page 2   written by the child before the dump
//   page 3   written by the parent after the restore
//   page 4   written by the child after the restore, once it saw page 3
//   5..15    never written: must read as zeros
// Region P (2 pages, MAP_SHARED too) is the parent's alone, mapped after the
// fork.  After SIGTERM the parent checks both regions' content, that /proc
// maps them shared ('s') and that R is one object in both processes (the
// same inode in both maps), writes page 3 and moves the phase on; the child
// checks pages 1-3, writes page 4 and ends; the parent checks page 4 and
// the child's exit status.  Restored as two private copies, the child would
// never see the phase move and the parent's wait would time out.
#include "mtlib.h"

#include <sys/mman.h>
#include <sys/prctl.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 16;
enum : uint64_t { kParentBefore = 101, kChildBefore = 102, kParentAfter = 103, kChildAfter = 104, kOwn = 105 };

struct Control {
  std::atomic<int> phase;  // 1 child wrote page 2, 2 parent wrote page 3, 3 child wrote page 4
};
constexpr int kChildFailed = 99;

char* g_r = nullptr;
Control* ctl() { return reinterpret_cast<Control*>(g_r); }
char* page(size_t i) { return g_r + i * kPage; }

// The child's verdict goes to stdout; the phase tells the parent at once.
#define CHILD_CHECK(cond, ...)                             \
  do {                                                     \
    if (!(cond)) {                                         \
      printf("FAIL: child: " __VA_ARGS__);                 \
      printf("\n");                                        \
      fflush(stdout);                                      \
      rt::store_wake(ctl()->phase, kChildFailed, true);    \
      _exit(1);                                            \
    }                                                      \
  } while (0)

std::string check_page(size_t i, uint64_t seed) {
  long at = rt::pattern_mismatch(page(i), kPage, seed);
  return at < 0 ? "" : "page " + std::to_string(i) + " differs at byte " + std::to_string(at);
}

[[noreturn]] void child(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  rt::fill_pattern(page(2), kPage, kChildBefore);
  rt::store_wake(ctl()->phase, 1, true);
  // Bounded by the parent's life (PDEATHSIG) and its bounded waits.
  while (ctl()->phase.load() < 2) rt::futex_wait(ctl()->phase, ctl()->phase.load(), nullptr, true);
  for (auto [i, seed] : {std::pair{size_t(1), kParentBefore}, {size_t(2), kChildBefore}, {size_t(3), kParentAfter}}) {
    std::string bad = check_page(i, seed);
    CHILD_CHECK(bad.empty(), "%s", bad.c_str());
  }
  CHILD_CHECK(rt::maps_entry(0, g_r).perms == "rw-s", "R is mapped %s", rt::maps_entry(0, g_r).perms.c_str());
  rt::fill_pattern(page(4), kPage, kChildAfter);
  rt::store_wake(ctl()->phase, 3, true);
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_term();
  void* r = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(r != MAP_FAILED, "mmap R");
  g_r = static_cast<char*>(r);
  rt::fill_pattern(page(1), kPage, kParentBefore);
  pid_t me = getpid();
  fflush(stdout);
  pid_t kid = fork();
  RT_CHECK(kid >= 0, "fork");
  if (kid == 0) child(me);
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(p != MAP_FAILED, "mmap P");
  rt::fill_pattern(p, 2 * kPage, kOwn);
  RT_CHECK(rt::await_at_least(ctl()->phase, 1, 30, true), "the child did not write page 2 within 30 s");
  RT_CHECK(check_page(2, kChildBefore).empty(), "the child's page 2 is not seen before the dump");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  for (auto [i, seed] : {std::pair{size_t(1), kParentBefore}, {size_t(2), kChildBefore}}) {
    std::string bad = check_page(i, seed);
    if (!bad.empty()) v.add("%s", bad.c_str());
  }
  if (rt::first_nonzero(page(0) + sizeof(Control), kPage - sizeof(Control)) >= 0)
    v.add("R's page 0 has a nonzero byte after the phase word");
  long nz = rt::first_nonzero(page(3), (kPages - 3) * kPage);
  if (nz >= 0) v.add("R has a nonzero byte at %ld of the never-written pages", long(3 * kPage) + nz);
  if (rt::pattern_mismatch(p, 2 * kPage, kOwn) >= 0) v.add("P differs at byte %ld", rt::pattern_mismatch(p, 2 * kPage, kOwn));
  rt::MapsEntry mine = rt::maps_entry(0, g_r), own = rt::maps_entry(0, p), theirs = rt::maps_entry(kid, g_r);
  if (mine.perms != "rw-s" || own.perms != "rw-s")
    v.add("R is mapped %s and P %s, want rw-s", mine.perms.c_str(), own.perms.c_str());
  if (!theirs.found || theirs.inode != mine.inode || theirs.perms != "rw-s")
    v.add("the child maps R as %s inode %llu, the parent as inode %llu: not one object", theirs.perms.c_str(),
          theirs.inode, mine.inode);
  if (ctl()->phase.load() != 1) v.add("the phase is %d before the parent moved it, want 1", ctl()->phase.load());

  rt::fill_pattern(page(3), kPage, kParentAfter);
  rt::store_wake(ctl()->phase, 2, true);
  if (!rt::await_at_least(ctl()->phase, 3, 30, true))
    v.add("the child did not answer within 30 s (phase %d): writes are not shared", ctl()->phase.load());
  else if (ctl()->phase.load() == kChildFailed)
    v.add("the child failed its checks");
  else if (!check_page(4, kChildAfter).empty())
    v.add("the child's write after the restore: %s", check_page(4, kChildAfter).c_str());
  int status = rt::await_child(kid, 30);
  if (status == -1) v.add("the child did not end within 30 s");
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) v.add("the child ended with status %#x", status);
  v.finish();
}
