// The vDSO survives: clock_gettime (monotonic and realtime), gettimeofday
// and time() through glibc, and the vDSO's own functions called by the
// addresses they had at dump, all agree with the system calls after restore;
// the dumped [vvar] and [vdso] addresses are still mapped.  With
// CKPT_RESTORE_VDSO_PROXY=1 in the environment (restore then reaches the
// kernel's vDSO through jumps at the dumped one), the dumped [vdso] address
// must hold the proxy, not the [vdso] itself.
#include <dlfcn.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "testlib.h"

namespace {

using ClockGettime = int (*)(clockid_t, timespec*);
using Gettimeofday = int (*)(timeval*, void*);
using Time = time_t (*)(time_t*);

struct Area {
  uint64_t start = 0, end = 0;
  std::string name;
};

// The area of /proc/self/maps containing addr, or the one named `name`.
Area find_area(uint64_t addr, const char* name) {
  FILE* f = fopen("/proc/self/maps", "r");
  RT_CHECK(f, "cannot open /proc/self/maps");
  char line[512];
  Area found;
  while (fgets(line, sizeof(line), f)) {
    unsigned long long s, e;
    char path[256] = "";
    if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &s, &e, path) < 2) continue;
    if ((name && std::string(path) == name) || (!name && addr >= s && addr < e)) {
      found = {s, e, path};
      break;
    }
  }
  fclose(f);
  return found;
}

double raw_clock(clockid_t id) {
  timespec t{};
  RT_CHECK(syscall(SYS_clock_gettime, id, &t) == 0, "clock_gettime system call");
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

double seconds(const timespec& t) { return double(t.tv_sec) + double(t.tv_nsec) / 1e9; }

// Every way to the time agrees with the system call within a second.
void check_clocks(const char* when, ClockGettime vdso_gettime, Gettimeofday vdso_gettimeofday, Time vdso_time) {
  timespec mono{}, real{};
  RT_CHECK(clock_gettime(CLOCK_MONOTONIC, &mono) == 0, "%s: clock_gettime(CLOCK_MONOTONIC)", when);
  RT_CHECK(clock_gettime(CLOCK_REALTIME, &real) == 0, "%s: clock_gettime(CLOCK_REALTIME)", when);
  double d = seconds(mono) - raw_clock(CLOCK_MONOTONIC);
  RT_CHECK(d > -1 && d < 1, "%s: glibc's monotonic clock is %.3f s off the system call's", when, d);
  d = seconds(real) - raw_clock(CLOCK_REALTIME);
  RT_CHECK(d > -1 && d < 1, "%s: glibc's realtime clock is %.3f s off the system call's", when, d);
  timeval tv{};
  RT_CHECK(gettimeofday(&tv, nullptr) == 0, "%s: gettimeofday", when);
  d = double(tv.tv_sec) + double(tv.tv_usec) / 1e6 - raw_clock(CLOCK_REALTIME);
  RT_CHECK(d > -1 && d < 1, "%s: gettimeofday is %.3f s off", when, d);
  d = double(time(nullptr)) - raw_clock(CLOCK_REALTIME);
  RT_CHECK(d > -2 && d < 1, "%s: time() is %.3f s off", when, d);

  // The vDSO's functions by their dumped addresses (glibc may fall back to
  // the system call when they fail; these calls do not).
  timespec direct{};
  int ret = vdso_gettime(CLOCK_MONOTONIC, &direct);
  RT_CHECK(ret == 0, "%s: the vDSO's clock_gettime returned %d", when, ret);
  d = seconds(direct) - raw_clock(CLOCK_MONOTONIC);
  RT_CHECK(d > -1 && d < 1, "%s: the vDSO's monotonic clock is %.3f s off", when, d);
  ret = vdso_gettimeofday(&tv, nullptr);
  RT_CHECK(ret == 0, "%s: the vDSO's gettimeofday returned %d", when, ret);
  d = double(tv.tv_sec) + double(tv.tv_usec) / 1e6 - raw_clock(CLOCK_REALTIME);
  RT_CHECK(d > -1 && d < 1, "%s: the vDSO's gettimeofday is %.3f s off", when, d);
  d = double(vdso_time(nullptr)) - raw_clock(CLOCK_REALTIME);
  RT_CHECK(d > -2 && d < 1, "%s: the vDSO's time is %.3f s off", when, d);
}

}  // namespace

int main() {
  void* vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
  RT_CHECK(vdso, "no vDSO in the link map");
  auto vdso_gettime = reinterpret_cast<ClockGettime>(dlsym(vdso, "__vdso_clock_gettime"));
  auto vdso_gettimeofday = reinterpret_cast<Gettimeofday>(dlsym(vdso, "__vdso_gettimeofday"));
  auto vdso_time = reinterpret_cast<Time>(dlsym(vdso, "__vdso_time"));
  RT_CHECK(vdso_gettime && vdso_gettimeofday && vdso_time, "the vDSO lacks clock_gettime, gettimeofday or time");

  Area dumped_vdso = find_area(0, "[vdso]");
  Area dumped_vvar = find_area(0, "[vvar]");
  RT_CHECK(dumped_vdso.start && dumped_vvar.start, "no [vdso] or [vvar] in /proc/self/maps");
  RT_CHECK(uint64_t(reinterpret_cast<uintptr_t>(vdso_gettime)) - dumped_vdso.start < dumped_vdso.end - dumped_vdso.start,
           "__vdso_clock_gettime is outside [vdso]");

  check_clocks("before", vdso_gettime, vdso_gettimeofday, vdso_time);
  timespec before{};
  clock_gettime(CLOCK_MONOTONIC, &before);

  rt::block_term();
  rt::ready();
  rt::wait_term();

  check_clocks("after", vdso_gettime, vdso_gettimeofday, vdso_time);
  timespec after{};
  clock_gettime(CLOCK_MONOTONIC, &after);
  RT_CHECK(seconds(after) >= seconds(before), "the monotonic clock went back from %.3f to %.3f", seconds(before),
           seconds(after));

  Area at_vdso = find_area(dumped_vdso.start, nullptr);
  Area at_vvar = find_area(dumped_vvar.start, nullptr);
  RT_CHECK(at_vdso.start == dumped_vdso.start && at_vdso.end == dumped_vdso.end,
           "the dumped [vdso] %llx-%llx is now %llx-%llx", (unsigned long long)dumped_vdso.start,
           (unsigned long long)dumped_vdso.end, (unsigned long long)at_vdso.start, (unsigned long long)at_vdso.end);
  // The read-only stand-ins of [vvar] and [vvar_vclock] may merge into one.
  RT_CHECK(at_vvar.start == dumped_vvar.start && at_vvar.end >= dumped_vvar.end,
           "the dumped [vvar] %llx-%llx is now %llx-%llx", (unsigned long long)dumped_vvar.start,
           (unsigned long long)dumped_vvar.end, (unsigned long long)at_vvar.start, (unsigned long long)at_vvar.end);

  const char* proxy = getenv("CKPT_RESTORE_VDSO_PROXY");
  bool proxied = proxy && std::string(proxy) == "1";
  if (proxied) {
    RT_CHECK(at_vdso.name.empty(), "the dumped [vdso] address holds %s, not the proxy", at_vdso.name.c_str());
    Area moved = find_area(0, "[vdso]");
    RT_CHECK(moved.start && moved.start != dumped_vdso.start, "the kernel's [vdso] is not mapped elsewhere");
  } else {
    RT_CHECK(at_vdso.name == "[vdso]" && at_vvar.name == "[vvar]", "the vDSO did not come back to its address");
  }
  rt::pass();
}
