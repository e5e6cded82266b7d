// Threads asleep in the poll family with a timeout and no descriptors at all
// (no pipe or eventfd needed to wake them: the timeout ends them), started
// just before ready().  Each must return 0 (not EINTR) and not before its
// timeout, measured on CLOCK_MONOTONIC from just before the call:
//   poll      poll(NULL, 0, 4000)
//   ppoll     ppoll(NULL, 0, {4 s}, mask with SIGRTMIN+k more): the mask is
//             the thread's own again afterwards
//   select    select(0, NULL, NULL, NULL, {4 s}): the timeval is left at 0
//             (Linux writes back the time not slept)
// The main thread waits until /proc shows each asleep in its call before it
// says it is ready.
#include "mtlib.h"

#include <poll.h>
#include <sys/select.h>

namespace {

constexpr int kTimeoutMs = 4000;

struct Sleeper {
  const char* what;
  long syscall_nr;
  void (*body)(Sleeper&);
  int k = 0;
  pthread_t handle{};
  std::atomic<pid_t> tid{0};
  rt::Report report{};
};

uint64_t mask_of(const Sleeper& s) { return rt::bit(SIGTERM) | rt::bit(SIGRTMIN + s.k); }

void finish(Sleeper& s, long r, int err, double start) {
  double slept = rt::now_seconds() - start;
  RT_TCHECK(s.report, r == 0, "%s returned %ld (%s) after %.3f s", s.what, r, r < 0 ? strerror(err) : "", slept);
  RT_TCHECK(s.report, slept >= kTimeoutMs / 1000.0 - 1e-6, "%s with a %d ms timeout returned after %.3f s", s.what,
            kTimeoutMs, slept);
  RT_TCHECK(s.report, gettid() == s.tid.load(), "tid %d, was %d", gettid(), s.tid.load());
  RT_TCHECK(s.report, rt::thread_mask() == mask_of(s), "signal mask %#llx, want %#llx",
            (unsigned long long)rt::thread_mask(), (unsigned long long)mask_of(s));
  s.report.pass();
}

void in_poll(Sleeper& s) {
  double start = rt::now_seconds();
  long r = syscall(SYS_poll, nullptr, 0, kTimeoutMs);
  finish(s, r, errno, start);
}

void in_ppoll(Sleeper& s) {
  sigset_t during;
  pthread_sigmask(SIG_BLOCK, nullptr, &during);
  sigaddset(&during, SIGRTMIN + 10 + s.k);
  timespec ts{kTimeoutMs / 1000, 0};
  double start = rt::now_seconds();
  long r = syscall(SYS_ppoll, nullptr, 0, &ts, &during, size_t(_NSIG / 8));
  finish(s, r, errno, start);
}

void in_select(Sleeper& s) {
  timeval tv{kTimeoutMs / 1000, 0};
  double start = rt::now_seconds();
  long r = syscall(SYS_select, 0, nullptr, nullptr, nullptr, &tv);
  int err = errno;
  RT_TCHECK(s.report, r != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0), "select timed out with %ld.%06ld s left",
            long(tv.tv_sec), long(tv.tv_usec));
  finish(s, r, err, start);
}

Sleeper g_sleepers[] = {
    {"poll", SYS_poll, in_poll},
    {"ppoll", SYS_ppoll, in_ppoll},
    {"select", SYS_select, in_select},
};

void* run(void* arg) {
  Sleeper& s = *static_cast<Sleeper*>(arg);
  s.tid = gettid();
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, SIGRTMIN + s.k);
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  s.body(s);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  int k = 0;
  for (Sleeper& s : g_sleepers) {
    s.k = k++;
    RT_CHECK(pthread_create(&s.handle, nullptr, run, &s) == 0, "pthread_create %s", s.what);
  }
  for (Sleeper& s : g_sleepers) {
    RT_CHECK(rt::poll_until([&] { return s.tid.load() != 0; }, 10), "thread %s did not start", s.what);
    RT_CHECK(rt::await_in_syscall(s.tid, s.syscall_nr, 10), "thread %s is not asleep in syscall %ld within 10 s",
             s.what, s.syscall_nr);
  }

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  for (Sleeper& s : g_sleepers) v.take(s.report, s.what, 30);
  for (Sleeper& s : g_sleepers)
    if (!rt::join_within(s.handle, 30)) v.add("thread %s cannot be joined within 30 s", s.what);
  v.finish();
}
