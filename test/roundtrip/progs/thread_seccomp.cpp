// Seccomp filters of one thread and not of the others, across the round trip.
//   F     sets no_new_privs, then installs two filters (raw seccomp(2),
//         without TSYNC, so the other threads are left alone):
//           older: uname -> EPERM, getpgrp -> EPERM
//           newer (SECCOMP_FILTER_FLAG_LOG): getppid -> ENOSYS, getpgrp -> EACCES
//         For getpgrp both answer ERRNO and the kernel takes the newest
//         filter's errno: EACCES only if the chain is in its order.
//   U     no filter: the three calls succeed.
//   main  no filter either.
// Each thread checks its calls and its own /proc/self/task/TID/status
// (Seccomp, Seccomp_filters, NoNewPrivs) once before ready() and again
// after the restore.
#include "mtlib.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

namespace {

#define ARCH_CHECK                                                                   \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),           \
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),                  \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                  \
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

#define DENY(nr, err)                                        \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),           \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err))

constexpr uint32_t AUDIT_ARCH_X86_64 = 0xc000003e;  // EM_X86_64 | 64BIT | LE

sock_filter g_older[] = {ARCH_CHECK, DENY(SYS_uname, EPERM), DENY(SYS_getpgrp, EPERM),
                         BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
sock_filter g_newer[] = {ARCH_CHECK, DENY(SYS_getppid, ENOSYS), DENY(SYS_getpgrp, EACCES),
                         BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};

long install(sock_filter* insns, size_t n, unsigned flags) {
  sock_fprog prog{static_cast<unsigned short>(n), insns};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

enum { F, U, kThreads };
const char* const kNames[kThreads] = {"F (filtered)", "U (unfiltered)"};

struct Slot {
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  std::string before;  // what the check found before ready(), "" if fine
  rt::Report report{};
};
Slot g_slots[kThreads];
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};

// -errno of a raw syscall without arguments that matter, or 0 on success.
long outcome(long nr) {
  struct utsname u;
  long r = nr == SYS_uname ? syscall(nr, &u) : syscall(nr);
  return r < 0 ? -errno : 0;
}

// "" if the calling thread behaves as `filtered` says, else what is wrong.
std::string check_self(pid_t tid, bool filtered) {
  char msg[256];
  struct Call {
    const char* name;
    long nr, want;
  };
  const Call calls[] = {{"uname", SYS_uname, filtered ? -EPERM : 0},
                        {"getppid", SYS_getppid, filtered ? -ENOSYS : 0},
                        {"getpgrp", SYS_getpgrp, filtered ? -EACCES : 0}};
  for (const Call& c : calls) {
    long got = outcome(c.nr);
    if (got != c.want) {
      snprintf(msg, sizeof(msg), "%s gives %ld (%s), want %ld", c.name, got, got ? strerror(int(-got)) : "success",
               c.want);
      return msg;
    }
  }
  std::string mode = rt::status_field(tid, "Seccomp"), count = rt::status_field(tid, "Seccomp_filters");
  std::string nnp = rt::status_field(tid, "NoNewPrivs");
  const char* want_mode = filtered ? "2" : "0";
  const char* want_count = filtered ? "2" : "0";
  const char* want_nnp = filtered ? "1" : "0";
  if (mode != want_mode || count != want_count || nnp != want_nnp) {
    snprintf(msg, sizeof(msg), "status of %d: Seccomp '%s' Seccomp_filters '%s' NoNewPrivs '%s', want %s %s %s", tid,
             mode.c_str(), count.c_str(), nnp.c_str(), want_mode, want_count, want_nnp);
    return msg;
  }
  return "";
}

void check_after(Slot& s, bool filtered) {
  std::string after = check_self(s.tid, filtered);
  RT_TCHECK(s.report, after.empty(), "after the restore: %s", after.c_str());
  s.report.pass();
}

void* run(void* arg) {
  int who = int(reinterpret_cast<intptr_t>(arg));
  Slot& s = g_slots[who];
  s.tid = gettid();
  if (who == F) {
    // Allowed without privileges; the kernel keeps it per thread too.
    RT_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    RT_CHECK(install(g_older, sizeof(g_older) / sizeof(g_older[0]), 0) == 0, "the older filter: %s", strerror(errno));
    RT_CHECK(install(g_newer, sizeof(g_newer) / sizeof(g_newer[0]), SECCOMP_FILTER_FLAG_LOG) == 0,
             "the newer filter: %s", strerror(errno));
  }
  s.before = check_self(s.tid, who == F);
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  check_after(s, who == F);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  pid_t pid = getpid();
  for (int who = 0; who < kThreads; who++)
    RT_CHECK(pthread_create(&g_slots[who].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(who))) == 0,
             "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, kThreads, 30), "threads did not set up their filters");
  for (int who = 0; who < kThreads; who++)
    RT_CHECK(g_slots[who].before.empty(), "%s before the dump: %s", kNames[who], g_slots[who].before.c_str());
  std::string main_before = check_self(pid, false);
  RT_CHECK(main_before.empty(), "the main thread before the dump: %s", main_before.c_str());

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  std::string main_after = check_self(pid, false);
  if (!main_after.empty()) v.add("the main thread after the restore: %s", main_after.c_str());
  rt::store_wake(g_go, 1);
  for (int who = 0; who < kThreads; who++) v.take(g_slots[who].report, kNames[who], 30);
  for (int who = 0; who < kThreads; who++)
    if (!rt::join_within(g_slots[who].handle, 30)) v.add("thread %s cannot be joined within 30 s", kNames[who]);
  v.finish();
}
