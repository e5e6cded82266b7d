// Signals pending for one thread and not for the others (thread-private
// queues), across the round trip.  Every thread blocks SIGUSR1 and
// SIGRTMIN+1, so a signal moved to the shared queue or to another thread
// would show (SigPnd/ShdPnd, sigpending) or be taken by the wrong thread.
//   T  SIGUSR1 sent with tgkill before ready(); after restore T sees it in
//      sigpending, unblocks it, and the handler must run in T with the
//      siginfo of that tgkill (code, sender);
//   U  SIGRTMIN+1 queued twice with values 11 and 22 (rt_tgsigqueueinfo):
//      both must still be queued for U, in order, and no third;
//   V  nothing pending.
// The main thread checks every task's SigPnd and the shared ShdPnd in /proc
// before ready() and after SIGTERM, then lets the threads check themselves.
#include "mtlib.h"

namespace {

enum { T, U, V, kThreads };
const char* const kNames[kThreads] = {"T", "U", "V"};

int rt1() { return SIGRTMIN + 1; }

struct Slot {
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  rt::Report report{};
};
Slot g_slots[kThreads];
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};

std::atomic<pid_t> g_usr1_tid{0};
std::atomic<int> g_usr1_code{1};
std::atomic<pid_t> g_usr1_pid{0};

void on_usr1(int, siginfo_t* si, void*) {
  g_usr1_code = si->si_code;
  g_usr1_pid = si->si_pid;
  g_usr1_tid = pid_t(syscall(SYS_gettid));
}

uint64_t pending_of(int who) {
  return who == T ? rt::bit(SIGUSR1) : who == U ? rt::bit(rt1()) : 0;
}

uint64_t my_pending() {
  sigset_t p;
  sigpending(&p);
  return rt::mask_bits(p);
}

void check_t(rt::Report& r) {
  RT_TCHECK(r, my_pending() == rt::bit(SIGUSR1), "sigpending %#llx, want SIGUSR1 alone",
            (unsigned long long)my_pending());
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);  // the handler runs before this returns
  RT_TCHECK(r, g_usr1_tid.load() == gettid(), "the SIGUSR1 handler ran in tid %d, want %d", g_usr1_tid.load(),
            gettid());
  RT_TCHECK(r, g_usr1_code.load() == SI_TKILL && g_usr1_pid.load() == getpid(),
            "SIGUSR1 has si_code %d si_pid %d, want SI_TKILL and %d", g_usr1_code.load(), g_usr1_pid.load(), getpid());
  RT_TCHECK(r, my_pending() == 0, "sigpending %#llx after the handler", (unsigned long long)my_pending());
  r.pass();
}

void check_u(rt::Report& r) {
  RT_TCHECK(r, my_pending() == rt::bit(rt1()), "sigpending %#llx, want SIGRTMIN+1 alone",
            (unsigned long long)my_pending());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, rt1());
  for (int want : {11, 22}) {
    siginfo_t si{};
    timespec zero{0, 0};
    int got = sigtimedwait(&set, &si, &zero);  // (glibc alters SI_TKILL only)
    RT_TCHECK(r, got == rt1(), "SIGRTMIN+1 with value %d is not queued", want);
    RT_TCHECK(r, si.si_code == SI_QUEUE && si.si_value.sival_int == want && si.si_pid == getpid(),
              "SIGRTMIN+1: code %d value %d pid %d, want SI_QUEUE %d %d", si.si_code, si.si_value.sival_int, si.si_pid,
              want, getpid());
  }
  timespec zero{0, 0};
  RT_TCHECK(r, sigtimedwait(&set, nullptr, &zero) < 0 && errno == EAGAIN, "a third SIGRTMIN+1 is queued");
  r.pass();
}

void* run(void* arg) {
  int who = int(reinterpret_cast<intptr_t>(arg));
  Slot& s = g_slots[who];
  s.tid = gettid();
  rt::add_wake(g_set_up, 1);
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  if (gettid() != s.tid.load()) s.report.fail("tid %d, was %d", gettid(), s.tid.load());
  else if (who == T) check_t(s.report);
  else if (who == U) check_u(s.report);
  else if (my_pending() != 0) s.report.fail("sigpending %#llx, want nothing", (unsigned long long)my_pending());
  else s.report.pass();
  return nullptr;
}

void queue_to(pid_t tid, int sig, int value) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = value;
  RT_CHECK(syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si) == 0, "rt_tgsigqueueinfo: %s", strerror(errno));
}

// SigPnd of every task and the shared ShdPnd are what was sent, nothing else.
void check_proc(rt::Verdict& v, const char* when) {
  pid_t pid = getpid();
  if (rt::status_hex(pid, "SigPnd") != 0) v.add("%s: the main thread has SigPnd %#llx", when,
                                                 (unsigned long long)rt::status_hex(pid, "SigPnd"));
  if (rt::status_hex(pid, "ShdPnd") != 0) v.add("%s: ShdPnd %#llx, want nothing shared", when,
                                                 (unsigned long long)rt::status_hex(pid, "ShdPnd"));
  for (int who = 0; who < kThreads; who++) {
    uint64_t got = rt::status_hex(g_slots[who].tid, "SigPnd");
    if (got != pending_of(who))
      v.add("%s: thread %s has SigPnd %#llx, want %#llx", when, kNames[who], (unsigned long long)got,
            (unsigned long long)pending_of(who));
  }
}

}  // namespace

int main() {
  rt::block_term();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, rt1());
  RT_CHECK(sigprocmask(SIG_BLOCK, &set, nullptr) == 0, "sigprocmask");  // in every thread
  struct sigaction sa {};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGUSR1, &sa, nullptr) == 0, "sigaction");
  pid_t pid = getpid();

  for (int who = 0; who < kThreads; who++)
    RT_CHECK(pthread_create(&g_slots[who].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(who))) == 0,
             "pthread_create");
  RT_CHECK(rt::await_at_least(g_set_up, kThreads, 30), "threads did not start");
  RT_CHECK(syscall(SYS_tgkill, pid, g_slots[T].tid.load(), SIGUSR1) == 0, "tgkill");
  queue_to(g_slots[U].tid, rt1(), 11);
  queue_to(g_slots[U].tid, rt1(), 22);
  rt::Verdict before;
  check_proc(before, "before the dump");
  if (before.count) rt::fail("%s", before.problems.c_str());

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  check_proc(v, "after SIGTERM");
  if (my_pending() != 0) v.add("the main thread has sigpending %#llx", (unsigned long long)my_pending());
  rt::store_wake(g_go, 1);
  for (int who = 0; who < kThreads; who++) v.take(g_slots[who].report, kNames[who], 30);
  for (int who = 0; who < kThreads; who++)
    if (!rt::join_within(g_slots[who].handle, 30)) v.add("thread %s cannot be joined within 30 s", kNames[who]);
  v.finish();
}
