// Areas a fork does not copy, in a parent and its child, each with its own
// data: after the restore each process must find its own dumped content.
//
//   wipe  MADV_WIPEONFORK: the child's copy starts zeroed; the child then
//         writes some pages of its own (the rest stays zero), the parent
//         keeps its data
//   drop  MAP_DROPPABLE (Linux 6.11; wipes on fork too): the same
//   nofork MADV_DONTFORK: the child has no such area at all
//
// The restore creates the child from the parent before either has its
// memory, so nothing may leak from one to the other; the flags must be
// there in both afterwards.
#include <errno.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "arealib.h"
#include "mtlib.h"

namespace {

constexpr size_t kPages = 16;
constexpr size_t kChildFirst = 3, kChildPages = 5;  // what the child writes
constexpr uint64_t kParentSeed = 0x5041, kChildSeed = 0x4348;

struct Areas {
  char* wipe = nullptr;
  char* drop = nullptr;  // nullptr: MAP_DROPPABLE not supported here
  char* nofork = nullptr;
};

char* map_area(int type) {
  void* a = mmap(nullptr, kPages * rt::kPage, PROT_READ | PROT_WRITE, type | MAP_ANONYMOUS, -1, 0);
  return a == MAP_FAILED ? nullptr : static_cast<char*>(a);
}

void check_wiped(const char* area, const char* flag, const char* who) {
  char what[64];
  snprintf(what, sizeof(what), "%s: the %s area", who, flag);
  rt::AreaInfo info = rt::area_of(area, what);
  RT_CHECK(info.has(flag), "%s lacks VmFlag %s (VmFlags: %s)", what, flag, info.flag_text().c_str());
  RT_CHECK(info.has("wf"), "%s lacks VmFlag wf (VmFlags: %s)", what, info.flag_text().c_str());
  bool parent = strcmp(who, "parent") == 0;
  if (parent) {
    rt::check_pages(area, 0, kPages, kParentSeed, what);
  } else {
    rt::check_pages(area, 0, kChildFirst, 0, what);
    rt::check_pages(area, kChildFirst, kChildPages, kChildSeed, what);
    rt::check_pages(area, kChildFirst + kChildPages, kPages - kChildFirst - kChildPages, 0, what);
  }
}

void check(const Areas& a, const char* who) {
  check_wiped(a.wipe, "wf", who);
  if (a.drop) check_wiped(a.drop, "dp", who);
  rt::AreaInfo info;
  if (strcmp(who, "parent") == 0) {
    info = rt::area_of(a.nofork, "parent: the dontfork area");
    RT_CHECK(info.has("dc"), "parent: the dontfork area lacks VmFlag dc (VmFlags: %s)", info.flag_text().c_str());
    rt::check_pages(a.nofork, 0, kPages, kParentSeed + 1, "parent: the dontfork area");
  } else {
    RT_CHECK(!rt::find_area(a.nofork, info), "child: the parent's dontfork area is mapped in the child (%lx-%lx %s)",
             (unsigned long)info.start, (unsigned long)info.end, info.flag_text().c_str());
  }
}

[[noreturn]] void child_main(const Areas& a, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Fresh, zeroed copies: nothing of the parent's.
  rt::check_pages(a.wipe, 0, kPages, 0, "child after fork: the wf area");
  rt::fill_pages(a.wipe, kChildFirst, kChildPages, kChildSeed);
  if (a.drop) {
    rt::check_pages(a.drop, 0, kPages, 0, "child after fork: the dp area");
    rt::fill_pages(a.drop, kChildFirst, kChildPages, kChildSeed);
  }
  check(a, "child");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent", 120);
  check(a, "child");
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});
  Areas a;
  a.wipe = map_area(MAP_PRIVATE);
  a.nofork = map_area(MAP_PRIVATE);
  RT_CHECK(a.wipe && a.nofork, "mmap");
  a.drop = map_area(MAP_DROPPABLE);
  if (!a.drop) printf("MAP_DROPPABLE not supported here (%s): not tested\n", strerror(errno));
  RT_CHECK(madvise(a.wipe, kPages * rt::kPage, MADV_WIPEONFORK) == 0, "madvise(MADV_WIPEONFORK)");
  RT_CHECK(madvise(a.nofork, kPages * rt::kPage, MADV_DONTFORK) == 0, "madvise(MADV_DONTFORK)");
  rt::fill_pages(a.wipe, 0, kPages, kParentSeed);
  if (a.drop) rt::fill_pages(a.drop, 0, kPages, kParentSeed);
  rt::fill_pages(a.nofork, 0, kPages, kParentSeed + 1);

  pid_t me = getpid();
  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(a, me);
  rt::await_signal(SIGUSR1, "ready from the child", 120);
  check(a, "parent");

  rt::ready();
  rt::wait_term();

  check(a, "parent");
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = rt::await_child(child, 120);
  RT_CHECK(status != -1, "the child did not end within 120 s");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  rt::pass();
}
