// SIGTRAP across the round trip.  ckpt stops every restored thread with an
// int3 of its own (and the dump's parasite with traps): a trap that finds
// SIGTRAP blocked resets its action to SIG_DFL, and a SIGTRAP already
// pending swallows the trap.  So the program has
//
//   - its own SIGTRAP handler (SA_SIGINFO), which it uses after the restore
//     (int3 and raise in the main thread, int3 in a worker thread): with
//     the action reset, the first trap kills it;
//   - SIGTRAP blocked in every thread, with SIGTRAPs pending: one private
//     to the main thread, one process-wide and one private to the worker,
//     each with its own value (sigqueue), which must all be there once;
//   - a child with SIGTRAP ignored, which must still be ignored.
//
// After SIGTERM the parent checks itself and its worker, then asks the
// child (SIGUSR2) for its verdict, its exit status.
#include "mtlib.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>

namespace {

volatile sig_atomic_t g_traps = 0;
volatile sig_atomic_t g_last_code = 0;

void on_trap(int, siginfo_t* si, void*) {
  g_traps = g_traps + 1;
  g_last_code = si->si_code;
}

constexpr int kMainValue = 1111, kSharedValue = 2222, kWorkerValue = 3333;

void queue_trap(pid_t tid, int value) {
  siginfo_t si{};
  si.si_signo = SIGTRAP;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = value;
  long r = tid ? syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGTRAP, &si)
               : syscall(SYS_rt_sigqueueinfo, getpid(), SIGTRAP, &si);
  RT_CHECK(r == 0, "queueing SIGTRAP %d", value);
}

// Takes one SIGTRAP that is pending (blocked) and returns its value.
int take_trap() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTRAP);
  siginfo_t si{};
  timespec zero{0, 0};
  RT_CHECK(sigtimedwait(&set, &si, &zero) == SIGTRAP, "pid %d tid %d: no SIGTRAP pending", getpid(), gettid());
  RT_CHECK(si.si_code == SI_QUEUE, "a pending SIGTRAP has si_code %d, not SI_QUEUE", si.si_code);
  return si.si_value.sival_int;
}

bool trap_pending() {
  sigset_t set;
  sigpending(&set);
  return sigismember(&set, SIGTRAP);
}

void unblock_trap() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTRAP);
  RT_CHECK(pthread_sigmask(SIG_UNBLOCK, &set, nullptr) == 0, "unblocking SIGTRAP");
}

void expect_handler(const char* who) {
  struct sigaction now {};
  RT_CHECK(sigaction(SIGTRAP, nullptr, &now) == 0, "query SIGTRAP");
  RT_CHECK(now.sa_sigaction == on_trap && (now.sa_flags & SA_SIGINFO), "%s: SIGTRAP's handler is lost (%p, flags %#x)",
           who, (void*)now.sa_sigaction, now.sa_flags);
}

std::atomic<int> g_worker_go{0}, g_worker_done{0};
std::atomic<int> g_worker_tid{0};
char g_worker_error[256];

void* worker(void*) {
  g_worker_tid.store(gettid());
  rt::store_wake(g_worker_done, 1);
  // Blocked without a timeout: that is the state under test; the main
  // thread's waits are bounded.
  while (g_worker_go.load() == 0) rt::futex_wait(g_worker_go, 0, nullptr);
  int value = trap_pending() ? take_trap() : -1;
  int before = g_traps;
  unblock_trap();
  __asm__ volatile("int3");
  if (value != kWorkerValue)
    snprintf(g_worker_error, sizeof(g_worker_error), "the worker's pending SIGTRAP has value %d, not %d", value,
             kWorkerValue);
  else if (g_traps != before + 1)
    snprintf(g_worker_error, sizeof(g_worker_error), "the worker's int3 ran the handler %d times", g_traps - before);
  rt::store_wake(g_worker_done, 2);
  return nullptr;
}

// The child: SIGTRAP ignored; on SIGUSR2 it checks it still is.
[[noreturn]] void child_main() {
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  RT_CHECK(sigaction(SIGTRAP, &ign, nullptr) == 0, "child: ignore SIGTRAP");
  RT_CHECK(kill(getppid(), SIGUSR1) == 0, "child: cannot signal its parent");
  rt::await_signal(SIGUSR2, "SIGUSR2 from the parent", rt::kWaitLimitSeconds);
  struct sigaction now {};
  sigaction(SIGTRAP, nullptr, &now);
  if (now.sa_handler != SIG_IGN) {
    printf("FAIL: the child's SIGTRAP is no longer ignored (%p)\n", (void*)now.sa_handler);
    fflush(stdout);
    _exit(1);
  }
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1, SIGUSR2, SIGTRAP});
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main();
  rt::await_signal(SIGUSR1, "the child's SIGUSR1");

  struct sigaction sa {};
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGTRAP, &sa, nullptr) == 0, "sigaction SIGTRAP");

  pthread_t th;
  RT_CHECK(pthread_create(&th, nullptr, worker, nullptr) == 0, "pthread_create");  // inherits the blocked mask
  RT_CHECK(rt::await_at_least(g_worker_done, 1, 30), "the worker did not start");
  queue_trap(gettid(), kMainValue);
  queue_trap(0, kSharedValue);
  queue_trap(g_worker_tid.load(), kWorkerValue);

  rt::ready();
  rt::wait_term();

  expect_handler("after the restore");
  // Private first, then the process-wide one; each exactly once.
  int first = take_trap();
  int second = take_trap();
  RT_CHECK(first == kMainValue && second == kSharedValue, "the main thread's pending SIGTRAPs are %d, %d (want %d, %d)",
           first, second, kMainValue, kSharedValue);
  RT_CHECK(!trap_pending(), "a SIGTRAP too many is pending in the main thread");
  unblock_trap();
  __asm__ volatile("int3");
  RT_CHECK(g_traps == 1 && g_last_code == SI_KERNEL, "int3: the handler ran %d times (si_code %d)", int(g_traps),
           int(g_last_code));
  raise(SIGTRAP);
  RT_CHECK(g_traps == 2 && g_last_code == SI_TKILL, "raise: the handler ran %d times (si_code %d)", int(g_traps),
           int(g_last_code));
  rt::store_wake(g_worker_go, 1);
  RT_CHECK(rt::await_at_least(g_worker_done, 2, 30), "the worker did not finish");
  RT_CHECK(g_worker_error[0] == 0, "%s", g_worker_error);
  pthread_join(th, nullptr);
  expect_handler("after the traps");

  RT_CHECK(kill(child, SIGUSR2) == 0, "cannot signal the child");
  int status = rt::await_child(child, 30);
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %#x)", status);
  rt::pass();
}
