// Credentials of one thread and not of its process, across the round trip.
// The raw system calls change only the calling thread (glibc's wrappers
// would change every thread):
//   A     setgroups {5001,5002}, setresgid 1101/1102/1103, setresuid
//         1001/1002/1003: no capabilities left;
//   B     setgroups {6001}, setresgid 2101/2102/2103, setresuid 2001/2002/2003;
//   C     setresuid(0, 3002, 0): effective uid 3002, so no effective
//         capabilities, but real and saved uid 0 keep the permitted set: after
//         the checks C takes euid 0 back, which only works if they were kept;
//   main  stays root with all its capabilities.
// Each thread checks its getresuid/getresgid/getgroups and its own
// /proc/self/task/TID/status (Uid, Gid, Groups, CapEff, CapPrm); the main
// thread checks its own and the process's dumpable flag (which the kernel
// cleared when the threads changed uid).  Must run as root.
#include "mtlib.h"

#include <grp.h>
#include <sys/prctl.h>

namespace {

struct Creds {
  const char* name;
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  std::vector<gid_t> groups;  // empty: left alone
  bool set_gids;
};

enum { A, B, C, kThreads };
const Creds kCreds[kThreads] = {
    {"A", 1001, 1002, 1003, 1101, 1102, 1103, {5001, 5002}, true},
    {"B", 2001, 2002, 2003, 2101, 2102, 2103, {6001}, true},
    {"C", 0, 3002, 0, 0, 0, 0, {}, false},
};

struct Slot {
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  rt::Report report{};
};
Slot g_slots[kThreads];
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};
uint64_t g_root_caps = 0;  // the main thread's CapEff (= CapPrm) before
std::string g_root_groups;   // and its Groups line

std::string groups_line(const std::vector<gid_t>& g) {
  std::string s;
  for (gid_t x : g) s += std::to_string(x) + " ";
  return s;
}

// "R\tE\tS\tFS" as the status file has it (fs ids follow the effective ones).
std::string ids_line(unsigned r, unsigned e, unsigned s) {
  return std::to_string(r) + "\t" + std::to_string(e) + "\t" + std::to_string(s) + "\t" + std::to_string(e);
}

void check(int who) {
  const Creds& c = kCreds[who];
  Slot& s = g_slots[who];
  rt::Report& r = s.report;
  pid_t tid = s.tid;
  RT_TCHECK(r, gettid() == tid, "tid %d, was %d", gettid(), tid);
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  getresuid(&ru, &eu, &su);
  getresgid(&rg, &eg, &sg);
  RT_TCHECK(r, ru == c.ruid && eu == c.euid && su == c.suid, "getresuid %u/%u/%u, want %u/%u/%u", ru, eu, su, c.ruid,
            c.euid, c.suid);
  RT_TCHECK(r, rg == c.rgid && eg == c.egid && sg == c.sgid, "getresgid %u/%u/%u, want %u/%u/%u", rg, eg, sg, c.rgid,
            c.egid, c.sgid);
  std::string uid = rt::status_field(tid, "Uid"), gid = rt::status_field(tid, "Gid");
  RT_TCHECK(r, uid == ids_line(c.ruid, c.euid, c.suid), "status Uid: %s", uid.c_str());
  RT_TCHECK(r, gid == ids_line(c.rgid, c.egid, c.sgid), "status Gid: %s", gid.c_str());
  if (!c.groups.empty()) {
    gid_t g[16];
    int n = getgroups(16, g);
    RT_TCHECK(r, n == int(c.groups.size()) && std::equal(g, g + n, c.groups.begin()), "getgroups gives %d groups", n);
  }
  std::string groups = rt::status_field(tid, "Groups");
  std::string want_groups = c.groups.empty() ? g_root_groups : groups_line(c.groups);
  RT_TCHECK(r, groups == want_groups, "status Groups: '%s', want '%s'", groups.c_str(), want_groups.c_str());
  uint64_t eff = rt::status_hex(tid, "CapEff"), prm = rt::status_hex(tid, "CapPrm");
  uint64_t want_prm = who == C ? g_root_caps : 0;
  RT_TCHECK(r, eff == 0 && prm == want_prm, "CapEff %#llx CapPrm %#llx, want 0 and %#llx", (unsigned long long)eff,
            (unsigned long long)prm, (unsigned long long)want_prm);
  if (who == C) {
    // The permitted set is real: euid 0 comes back, and with it CapEff.
    RT_TCHECK(r, syscall(SYS_setresuid, -1, 0, -1) == 0, "C cannot take euid 0 back: %s", strerror(errno));
    RT_TCHECK(r, geteuid() == 0 && rt::status_hex(tid, "CapEff") == g_root_caps, "C's euid %u CapEff %#llx", geteuid(),
              (unsigned long long)rt::status_hex(tid, "CapEff"));
  }
  r.pass();
}

void* run(void* arg) {
  int who = int(reinterpret_cast<intptr_t>(arg));
  const Creds& c = kCreds[who];
  Slot& s = g_slots[who];
  s.tid = gettid();
  if (!c.groups.empty())
    RT_CHECK(syscall(SYS_setgroups, c.groups.size(), c.groups.data()) == 0, "setgroups: %s", strerror(errno));
  if (c.set_gids) RT_CHECK(syscall(SYS_setresgid, c.rgid, c.egid, c.sgid) == 0, "setresgid: %s", strerror(errno));
  RT_CHECK(syscall(SYS_setresuid, c.ruid, c.euid, c.suid) == 0, "setresuid: %s", strerror(errno));
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  check(who);
  return nullptr;
}

}  // namespace

int main() {
  RT_CHECK(geteuid() == 0, "thread_creds must run as root");
  rt::block_term();
  pid_t pid = getpid();
  g_root_caps = rt::status_hex(pid, "CapEff");
  g_root_groups = rt::status_field(pid, "Groups");
  RT_CHECK(g_root_caps != 0 && g_root_caps == rt::status_hex(pid, "CapPrm"), "root without capabilities");
  for (int who = 0; who < kThreads; who++)
    RT_CHECK(pthread_create(&g_slots[who].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(who))) == 0,
             "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, kThreads, 30), "threads did not set up their credentials");
  int dumpable = prctl(PR_GET_DUMPABLE);
  std::string uid_before = rt::status_field(pid, "Uid");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  uid_t ru, eu, su;
  getresuid(&ru, &eu, &su);
  if (ru || eu || su) v.add("the main thread has uids %u/%u/%u, want root", ru, eu, su);
  if (rt::status_field(pid, "Uid") != uid_before) v.add("the main thread's Uid: %s", rt::status_field(pid, "Uid").c_str());
  if (rt::status_field(pid, "Groups") != g_root_groups) v.add("the main thread's Groups changed");
  if (rt::status_hex(pid, "CapEff") != g_root_caps || rt::status_hex(pid, "CapPrm") != g_root_caps)
    v.add("the main thread's CapEff %#llx CapPrm %#llx, want %#llx", (unsigned long long)rt::status_hex(pid, "CapEff"),
          (unsigned long long)rt::status_hex(pid, "CapPrm"), (unsigned long long)g_root_caps);
  if (prctl(PR_GET_DUMPABLE) != dumpable) v.add("dumpable is %d, was %d", prctl(PR_GET_DUMPABLE), dumpable);
  rt::store_wake(g_go, 1);
  for (int who = 0; who < kThreads; who++) v.take(g_slots[who].report, kCreds[who].name, 30);
  for (int who = 0; who < kThreads; who++)
    if (!rt::join_within(g_slots[who].handle, 30)) v.add("thread %s cannot be joined within 30 s", kCreds[who].name);
  v.finish();
}
