// The little library every round-trip test program uses.
//
// A test sets up some state, calls ready() (the driver then dumps it),
// waits for SIGTERM with wait_term(), checks its state and ends with pass()
// or fail().  The verdict goes to stdout (a regular file the driver reads)
// and to the exit status.
#pragma once

#include <signal.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <initializer_list>

namespace rt {

inline volatile sig_atomic_t g_term = 0;

// No test waits forever: a test not signalled within this many seconds fails.
inline constexpr int kWaitLimitSeconds = 600;

[[noreturn]] inline void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  printf("FAIL: %s\n", msg);
  fflush(stdout);
  _exit(1);
}

[[noreturn]] inline void pass() {
  printf("PASS\n");
  fflush(stdout);
  _exit(0);
}

#define RT_CHECK(cond, ...)  \
  do {                       \
    if (!(cond)) ::rt::fail(__VA_ARGS__); \
  } while (0)

// Tells the driver the state is set up (it is waiting for SIGUSR1).
inline void ready() {
  const char* driver = getenv("CKPT_TEST_DRIVER");
  RT_CHECK(driver, "CKPT_TEST_DRIVER is not set");
  fflush(stdout);
  RT_CHECK(kill(atoi(driver), SIGUSR1) == 0, "cannot signal the driver");
}

inline double now_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// For tests that keep running (spinning) until SIGTERM: a handler sets g_term.
inline void on_term(int) { g_term = 1; }
inline void install_term_flag() {
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigemptyset(&sa.sa_mask);
  RT_CHECK(sigaction(SIGTERM, &sa, nullptr) == 0, "sigaction(SIGTERM)");
}

// For tests that just wait: SIGTERM is blocked and taken with a bounded
// sigtimedwait.  Call block_term() before ready().
inline void block_term() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  RT_CHECK(sigprocmask(SIG_BLOCK, &set, nullptr) == 0, "sigprocmask");
}

// Waits up to `seconds` for `sig`, which the caller blocks; the dump's
// freeze and the restore interrupt sigtimedwait, which then waits again.
inline void await_signal(int sig, const char* what, int seconds = 60) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  double deadline = now_seconds() + seconds;
  for (;;) {
    double left = deadline - now_seconds();
    RT_CHECK(left > 0, "pid %d: no %s within %d s", getpid(), what, seconds);
    timespec ts{time_t(left) + 1, 0};
    if (sigtimedwait(&one, nullptr, &ts) == sig) return;
  }
}

// Blocks the signals a test then takes with await_signal() or wait_term().
inline void block_signals(std::initializer_list<int> sigs) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : sigs) sigaddset(&set, sig);
  RT_CHECK(sigprocmask(SIG_BLOCK, &set, nullptr) == 0, "sigprocmask");
}

inline void wait_term() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  double deadline = now_seconds() + kWaitLimitSeconds;
  for (;;) {
    double left = deadline - now_seconds();
    RT_CHECK(left > 0, "no SIGTERM within %d s", kWaitLimitSeconds);
    timespec limit{time_t(left), 0};
    int sig = sigtimedwait(&set, nullptr, &limit);
    if (sig == SIGTERM) return;
    // A handled signal (a timer of the test, say) interrupted the wait.
  }
}

}  // namespace rt
