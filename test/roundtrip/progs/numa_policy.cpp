// NUMA memory policies across the round trip, of threads (set_mempolicy)
// and of areas (mbind), with their mode flags.  On a machine with a single
// node every policy names node 0, and the modes and flags still tell them
// apart:
//
//   main thread   MPOL_BIND | MPOL_F_STATIC_NODES {0}
//   thread I      MPOL_INTERLEAVE {0}
//   thread P      MPOL_PREFERRED | MPOL_F_RELATIVE_NODES {0}
//   thread L      MPOL_LOCAL
//   thread D      MPOL_DEFAULT (made before the main thread set its own)
//   areas         bind {0}; interleave static {0}; preferred {0}; local;
//                 bind relative {0}; one without (default); a shared
//                 anonymous one, interleave {0} (the policy of its shmem
//                 object); each written with a pattern
//
// On SIGTERM each thread reads its own policy with get_mempolicy, the main
// thread each area's (MPOL_F_ADDR), and the contents are compared.
#include "mtlib.h"

#include <sys/mman.h>

namespace {

constexpr int kDefault = 0, kPreferred = 1, kBind = 2, kInterleave = 3, kLocal = 4;
constexpr int kStatic = 1 << 15, kRelative = 1 << 14;
constexpr int kGetAddr = 1 << 1;  // MPOL_F_ADDR
constexpr unsigned long kMaxNode = 1025;  // 1024 bits (the kernel counts one less)
constexpr size_t kPage = 4096, kAreaPages = 4;

struct Policy {
  int mode;  // with its flags
  unsigned long nodes;  // node 0 only: the low word is all a test here needs
};

std::string text(const Policy& p) {
  char buf[64];
  snprintf(buf, sizeof(buf), "mode %d flags %#x nodes %#lx", p.mode & 0xff, p.mode & ~0xff, p.nodes);
  return buf;
}

bool same(const Policy& a, const Policy& b) { return a.mode == b.mode && a.nodes == b.nodes; }

long set_policy(const Policy& p) {
  unsigned long mask[16] = {p.nodes};
  return syscall(SYS_set_mempolicy, p.mode, p.nodes ? mask : nullptr, p.nodes ? kMaxNode : 0);
}

// The policy of the calling thread, or (addr) of the area at addr.
Policy get_policy(void* addr) {
  int mode = -1;
  unsigned long mask[16] = {};
  if (syscall(SYS_get_mempolicy, &mode, mask, kMaxNode, addr, addr ? kGetAddr : 0) < 0) return {-1, 0};
  for (int i = 1; i < 16; i++)
    if (mask[i]) return {-2, 0};
  return {mode, mask[0]};
}

std::atomic<int> g_ready{0};
std::atomic<int> g_check{0};

struct PolicyThread {
  const char* name;
  Policy want;
  rt::Report report;
};

void check_thread(PolicyThread& t) {
  Policy got = get_policy(nullptr);
  RT_TCHECK(t.report, same(got, t.want), "has %s, was given %s", text(got).c_str(), text(t.want).c_str());
  t.report.pass();
}

void* thread_main(void* arg) {
  PolicyThread& t = *static_cast<PolicyThread*>(arg);
  if (t.want.mode != kDefault && set_policy(t.want) < 0)
    t.report.fail("set_mempolicy(%s): %s", text(t.want).c_str(), strerror(errno));
  rt::add_wake(g_ready, 1);
  while (g_check.load() == 0) rt::futex_wait(g_check, 0, nullptr);
  if (t.report.state.load() == 0) check_thread(t);
  return nullptr;
}

struct Area {
  const char* name;
  Policy want;
  bool shared;
  char* p = nullptr;
};

// An area of its own between two guard pages (no merging with a
// neighbour), bound, then written (the pages go where the policy says).
void make_area(Area& a, uint64_t seed) {
  size_t len = kAreaPages * kPage;
  char* guard = static_cast<char*>(
      mmap(nullptr, len + 2 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  RT_CHECK(guard != MAP_FAILED, "mmap guard");
  a.p = static_cast<char*>(mmap(guard + kPage, len, PROT_READ | PROT_WRITE,
                                (a.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  RT_CHECK(a.p != MAP_FAILED, "mmap area %s", a.name);
  if (a.want.mode != kDefault) {
    unsigned long mask[16] = {a.want.nodes};
    RT_CHECK(syscall(SYS_mbind, a.p, len, a.want.mode, a.want.nodes ? mask : nullptr, a.want.nodes ? kMaxNode : 0,
                     0) == 0,
             "mbind area %s (%s): %s", a.name, text(a.want).c_str(), strerror(errno));
  }
  rt::fill_pattern(a.p, len, seed);
}

}  // namespace

int main() {
  Area areas[] = {
      {"bind", {kBind, 1}, false},
      {"interleave static", {kInterleave | kStatic, 1}, false},
      {"preferred", {kPreferred, 1}, false},
      {"local", {kLocal, 0}, false},
      {"bind relative", {kBind | kRelative, 1}, false},
      {"none", {kDefault, 0}, false},
      {"shared interleave", {kInterleave, 1}, true},
  };
  for (size_t i = 0; i < std::size(areas); i++) make_area(areas[i], 100 + i);
  for (const Area& a : areas) {
    Policy got = get_policy(a.p);
    RT_CHECK(same(got, a.want), "area %s has %s before any dump, was given %s", a.name, text(got).c_str(),
             text(a.want).c_str());
  }

  PolicyThread threads[] = {
      {"I", {kInterleave, 1}, {}},
      {"P", {kPreferred | kRelative, 1}, {}},
      {"L", {kLocal, 0}, {}},
      {"D", {kDefault, 0}, {}},
  };
  rt::block_term();  // before the threads, which inherit the mask
  pthread_t handles[std::size(threads)];
  for (size_t i = 0; i < std::size(threads); i++)
    RT_CHECK(pthread_create(&handles[i], nullptr, thread_main, &threads[i]) == 0, "pthread_create");
  RT_CHECK(rt::await_at_least(g_ready, int(std::size(threads)), 30), "the threads did not start");
  PolicyThread main_thread{"main", {kBind | kStatic, 1}, {}};
  RT_CHECK(set_policy(main_thread.want) == 0, "set_mempolicy(%s): %s", text(main_thread.want).c_str(),
           strerror(errno));

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  check_thread(main_thread);
  v.take(main_thread.report, "main thread", 1);
  rt::store_wake(g_check, 1);
  for (PolicyThread& t : threads) v.take(t.report, t.name, 30);
  for (size_t i = 0; i < std::size(areas); i++) {
    Policy got = get_policy(areas[i].p);
    if (!same(got, areas[i].want))
      v.add("area %s has %s, was given %s", areas[i].name, text(got).c_str(), text(areas[i].want).c_str());
    if (rt::pattern_mismatch(areas[i].p, kAreaPages * kPage, 100 + i) >= 0) v.add("area %s lost its content", areas[i].name);
  }
  for (pthread_t h : handles)
    if (!rt::join_within(h, 30)) v.add("a thread did not end");
  v.finish();
}
