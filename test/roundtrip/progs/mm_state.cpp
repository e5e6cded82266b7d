// The memory descriptor's flags beyond the areas: the core dump filter (a
// parent and its child with different ones) and, with it, KSM's
// merge-everything mode (PR_SET_MEMORY_MERGE, Linux 6.4, restored with the
// prctl family; the parent only: every area of it shows VmFlags mg, also
// areas mapped after the restore).
#include <sys/prctl.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "arealib.h"
#include "mtlib.h"

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void set_filter(const char* hex) {
  FILE* f = fopen("/proc/self/coredump_filter", "we");
  RT_CHECK(f && fputs(hex, f) >= 0 && fclose(f) == 0, "write coredump_filter");
}

void check_filter(unsigned want, const char* who) {
  unsigned got = unsigned(strtoul(slurp("/proc/self/coredump_filter").c_str(), nullptr, 16));
  RT_CHECK(got == want, "%s: coredump_filter is %x, want %x", who, got, want);
}

bool g_merge = false;

void check_merge(const char* who) {
  if (!g_merge) return;
  RT_CHECK(slurp("/proc/self/ksm_stat").find("ksm_merge_any: yes") != std::string::npos,
           "%s: ksm_merge_any is not set", who);
  void* fresh = mmap(nullptr, rt::kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  RT_CHECK(fresh != MAP_FAILED, "mmap");
  RT_CHECK(rt::area_of(fresh, who).has("mg"), "%s: a new area is not mergeable", who);
  munmap(fresh, rt::kPage);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});
  pid_t me = getpid();
  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    set_filter("0x13");
    RT_CHECK(kill(me, SIGUSR1) == 0, "child: signal the parent");
    rt::await_signal(SIGUSR2, "word from the parent", 120);
    check_filter(0x13, "child");
    fflush(stdout);
    _exit(0);
  }
  rt::await_signal(SIGUSR1, "ready from the child", 120);
  set_filter("0x7f");
  g_merge = prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0) == 0;
  if (!g_merge) printf("PR_SET_MEMORY_MERGE not supported here: not tested\n");
  check_merge("parent before");

  rt::ready();
  rt::wait_term();

  check_filter(0x7f, "parent");
  check_merge("parent");
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = rt::await_child(child, 120);
  RT_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  rt::pass();
}
