// CPU affinity per thread across the round trip: each thread pinned to a set
// of its own, which the restore must give back to that thread and no other.
//
//   main thread   {0}
//   thread A      {last CPU} (CPU 1 on two cores)
//   thread B      every CPU the process may use (unpinned)
//   thread C      {0, last CPU}, set after B: a set of two
//
// On one CPU, A and C are {0} too: the check is then weaker but still
// exact.  On SIGTERM each thread compares sched_getaffinity with the set it
// asked for and reports; the verdict gathers them.
//
// With CKPT_TEST_AFFINITY=cpuset the process first enters a cpuset cgroup
// (v1) of its own with every CPU, listed in ./cgroups for the test to
// narrow to CPU 0 before the restore (A's CPU is then gone: the restore
// must refuse) and to remove at the end.
#include "mtlib.h"

#include <sched.h>
#include <sys/stat.h>

#include <fstream>

namespace {

std::atomic<int> g_ready{0};
std::atomic<int> g_check{0};

struct Pinned {
  const char* name;
  cpu_set_t want;
  rt::Report report;
};

cpu_set_t g_all;  // what the process may use at the start
int g_last = 0;   // the highest CPU in it

cpu_set_t set_of(std::initializer_list<int> cpus) {
  cpu_set_t s;
  CPU_ZERO(&s);
  for (int c : cpus) CPU_SET(c, &s);
  return s;
}

bool pin(const cpu_set_t& want) { return sched_setaffinity(0, sizeof(want), &want) == 0; }

std::string list(const cpu_set_t& s) {
  std::string out;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &s)) out += (out.empty() ? "" : ",") + std::to_string(c);
  return out.empty() ? "none" : out;
}

void check(Pinned& p) {
  cpu_set_t got;
  RT_TCHECK(p.report, sched_getaffinity(0, sizeof(got), &got) == 0, "sched_getaffinity: %s", strerror(errno));
  RT_TCHECK(p.report, CPU_EQUAL(&got, &p.want), "runs on CPUs %s, was pinned to %s", list(got).c_str(),
            list(p.want).c_str());
  p.report.pass();
}

void* thread_main(void* arg) {
  Pinned& p = *static_cast<Pinned*>(arg);
  if (!pin(p.want)) p.report.fail("sched_setaffinity(%s): %s", list(p.want).c_str(), strerror(errno));
  rt::add_wake(g_ready, 1);
  while (g_check.load() == 0) rt::futex_wait(g_check, 0, nullptr);
  if (p.report.state.load() == 0) check(p);
  return nullptr;
}

bool write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return bool(out);
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void enter_own_cpuset() {
  const std::string root = "/sys/fs/cgroup/cpuset";
  std::string dir = root + "/ckpt-rt-affinity-" + std::to_string(getpid());
  RT_CHECK(mkdir(dir.c_str(), 0755) == 0, "mkdir %s: %s", dir.c_str(), strerror(errno));
  RT_CHECK(write_file("cgroups", dir + "\n"), "cannot write ./cgroups");
  RT_CHECK(write_file(dir + "/cpuset.cpus", first_line(root + "/cpuset.cpus")) &&
               write_file(dir + "/cpuset.mems", first_line(root + "/cpuset.mems")) &&
               write_file(dir + "/cgroup.procs", std::to_string(getpid())),
           "cannot enter the cpuset %s", dir.c_str());
}

}  // namespace

int main() {
  const char* variant = getenv("CKPT_TEST_AFFINITY");
  if (variant && strcmp(variant, "cpuset") == 0) enter_own_cpuset();
  RT_CHECK(sched_getaffinity(0, sizeof(g_all), &g_all) == 0, "sched_getaffinity");
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &g_all)) g_last = c;
  RT_CHECK(CPU_ISSET(0, &g_all), "CPU 0 is not ours (%s)", list(g_all).c_str());

  Pinned main_thread{"main", set_of({0}), {}};
  Pinned threads[] = {
      {"A", set_of({g_last}), {}},
      {"B", g_all, {}},
      {"C", set_of({0, g_last}), {}},
  };
  RT_CHECK(pin(main_thread.want), "sched_setaffinity {0}: %s", strerror(errno));

  rt::block_term();  // before the threads, which inherit the mask
  pthread_t handles[3];
  for (int i = 0; i < 3; i++) {
    RT_CHECK(pthread_create(&handles[i], nullptr, thread_main, &threads[i]) == 0, "pthread_create");
    // One at a time: each is pinned before the next starts.
    RT_CHECK(rt::await_at_least(g_ready, i + 1, 30), "thread %s did not start", threads[i].name);
  }

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  check(main_thread);
  v.take(main_thread.report, "main thread", 1);
  rt::store_wake(g_check, 1);
  for (int i = 0; i < 3; i++) v.take(threads[i].report, threads[i].name, 30);
  for (pthread_t h : handles)
    if (!rt::join_within(h, 30)) v.add("a thread did not end");
  v.finish();
}
