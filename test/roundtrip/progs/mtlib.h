// Helpers for the round-trip tests with threads or shared memory: futexes,
// bounded waits, per-thread reports, and what /proc says about one task.
//
// Worker threads may block without a timeout (that is often the state under
// test); the main thread's waits are all bounded, and when one runs out it
// prints FAIL and ends the whole process, workers included.
#pragma once

#include "testlib.h"

#include <dirent.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

namespace rt {

static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);

inline int* word_of(std::atomic<int>& a) { return reinterpret_cast<int*>(&a); }

// `shared`: the word is in memory shared between processes (a non-private
// futex); otherwise only threads of this process wait on it.
inline long futex_wait(std::atomic<int>& a, int expect, const timespec* timeout, bool shared = false) {
  return syscall(SYS_futex, word_of(a), shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, expect, timeout, nullptr, 0);
}

inline long futex_wake(std::atomic<int>& a, int n = INT_MAX, bool shared = false) {
  return syscall(SYS_futex, word_of(a), shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

inline void store_wake(std::atomic<int>& a, int v, bool shared = false) {
  a.store(v);
  futex_wake(a, INT_MAX, shared);
}

inline void add_wake(std::atomic<int>& a, int v, bool shared = false) {
  a.fetch_add(v);
  futex_wake(a, INT_MAX, shared);
}

// Waits until a >= want, at most `seconds`; false if it did not happen.  The
// futex waits are short (0.5 s at most) and any EINTR just goes round again.
inline bool await_at_least(std::atomic<int>& a, int want, double seconds, bool shared = false) {
  double deadline = now_seconds() + seconds;
  for (;;) {
    int v = a.load();
    if (v >= want) return true;
    double left = deadline - now_seconds();
    if (left <= 0) return false;
    double step = left < 0.5 ? left : 0.5;
    timespec ts{time_t(step), long((step - double(time_t(step))) * 1e9)};
    futex_wait(a, v, &ts, shared);
  }
}

// For conditions no futex announces (what /proc shows, say): checks every
// 2 ms, at most `seconds`.
template <class Pred>
bool poll_until(Pred pred, double seconds) {
  double deadline = now_seconds() + seconds;
  while (!pred()) {
    if (now_seconds() > deadline) return false;
    timespec ts{0, 2 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

// A thread that answers: each new value stored into ping is stored back
// into pong.  It waits without a timeout (its callers' waits are bounded):
// a thread asleep in a futex, which must survive a stop and a restore.
struct Echo {
  std::atomic<int> ping{0}, pong{0};
  static void* run(void* self) {
    Echo& e = *static_cast<Echo*>(self);
    for (int seen = 0;;) {
      while (e.ping.load() == seen) futex_wait(e.ping, seen, nullptr);
      seen = e.ping.load();
      store_wake(e.pong, seen);
    }
    return nullptr;
  }
  // Pings with `value` and waits for the answer.
  bool answers(int value, double seconds) {
    store_wake(ping, value);
    return await_at_least(pong, value, seconds);
  }
};

// pthread_join with a deadline (the join waits on the kernel clearing the
// thread's tid word: restore must give each thread its clear_child_tid).
inline bool join_within(pthread_t t, double seconds) {
  timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_sec += time_t(seconds);
  return pthread_clockjoin_np(t, nullptr, CLOCK_MONOTONIC, &abs) == 0;
}

// --- /proc ------------------------------------------------------------------

inline std::string read_text(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return "";
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

inline std::string task_file(pid_t tid, const char* leaf) {
  return "/proc/self/task/" + std::to_string(tid) + "/" + leaf;
}

// A field of a status file ("SigBlk", "Uid", ...) without its key, tabs
// kept between values; "" if there is none.
inline std::string status_field_of(const std::string& status_path, const char* key) {
  std::string s = read_text(status_path);
  std::string k = std::string("\n") + key + ":";
  size_t p = s.find(k);
  if (p == std::string::npos) return "";
  p += k.size();
  while (p < s.size() && (s[p] == '\t' || s[p] == ' ')) p++;
  size_t e = s.find('\n', p);
  return s.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

inline std::string status_field(pid_t tid, const char* key) { return status_field_of(task_file(tid, "status"), key); }

inline uint64_t status_hex(pid_t tid, const char* key) {
  std::string v = status_field(tid, key);
  return v.empty() ? ~0ull : strtoull(v.c_str(), nullptr, 16);
}

// The state letter of /proc/self/task/TID/stat ('R', 'S', 'Z', ...), 0 if gone.
inline char task_state(pid_t tid, pid_t pid = 0) {
  std::string path = pid ? "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat"
                         : task_file(tid, "stat");
  std::string s = read_text(path);
  size_t p = s.rfind(')');
  return p == std::string::npos || p + 2 >= s.size() ? 0 : s[p + 2];
}

// The system call a blocked task sleeps in (/proc/self/task/TID/syscall),
// -1 if it runs or cannot be read.  The kernel reports it only once the task
// is off the CPU in a sleep, so a number here means "blocked in that call".
inline long task_syscall(pid_t tid) {
  std::string s = read_text(task_file(tid, "syscall"));
  if (s.empty() || s[0] < '0' || s[0] > '9') return -1;
  return strtol(s.c_str(), nullptr, 10);
}

inline bool await_in_syscall(pid_t tid, long nr, double seconds) {
  return poll_until([&] { return task_syscall(tid) == nr; }, seconds);
}

// The tids of /proc/self/task, sorted.
inline std::vector<pid_t> task_list() {
  std::vector<pid_t> tids;
  DIR* d = opendir("/proc/self/task");
  if (!d) return tids;
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.push_back(pid_t(atoi(e->d_name)));
  closedir(d);
  std::sort(tids.begin(), tids.end());
  return tids;
}

// Signals 1..64 as the kernel prints them in SigBlk/SigPnd: bit sig-1.
inline uint64_t mask_bits(const sigset_t& set) {
  uint64_t bits = 0;
  for (int sig = 1; sig <= 64; sig++)
    if (sigismember(&set, sig) == 1) bits |= 1ull << (sig - 1);
  return bits;
}

inline uint64_t thread_mask() {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return mask_bits(cur);
}

inline uint64_t bit(int sig) { return 1ull << (sig - 1); }

// A line of /proc/PID/maps (pid 0: self) that starts at `addr`.
struct MapsEntry {
  bool found = false;
  std::string perms, name;  // "rw-s", "/memfd:x (deleted)"
  unsigned long long offset = 0, inode = 0;
};

inline MapsEntry maps_entry(pid_t pid, const void* addr) {
  MapsEntry m;
  std::string maps = read_text(pid ? "/proc/" + std::to_string(pid) + "/maps" : "/proc/self/maps");
  char want[32];
  snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
  size_t p = 0;
  while (p < maps.size()) {
    size_t e = maps.find('\n', p);
    if (e == std::string::npos) e = maps.size();
    std::string line = maps.substr(p, e - p);
    p = e + 1;
    if (line.compare(0, strlen(want), want) != 0) continue;
    char perms[8] = {};
    unsigned long long offset, inode;
    int name_at = 0;
    if (sscanf(line.c_str(), "%*x-%*x %7s %llx %*s %llu %n", perms, &offset, &inode, &name_at) < 3) return m;
    m.found = true;
    m.perms = perms;
    m.offset = offset;
    m.inode = inode;
    m.name = name_at > 0 ? line.substr(size_t(name_at)) : "";
    return m;
  }
  return m;
}

// --- processes and patterns ---------------------------------------------------

// Waits (bounded) for child `pid` to end: its wait status, or -1.
inline int await_child(pid_t pid, double seconds) {
  int status = -1;
  return poll_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, seconds) ? status : -1;
}

// Bytes that depend on their offset and a seed, to fill and check memory.
inline unsigned char pattern_byte(uint64_t seed, size_t i) {
  uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;
  return (unsigned char)(x >> 56);
}

inline void fill_pattern(void* p, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) static_cast<unsigned char*>(p)[i] = pattern_byte(seed, i);
}

// The first offset that differs from the pattern, or -1.
inline long pattern_mismatch(const void* p, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++)
    if (static_cast<const unsigned char*>(p)[i] != pattern_byte(seed, i)) return long(i);
  return -1;
}

inline long first_nonzero(const void* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (static_cast<const unsigned char*>(p)[i] != 0) return long(i);
  return -1;
}

// --- reports ----------------------------------------------------------------

// What one thread found when it checked itself.
struct Report {
  std::atomic<int> state{0};  // 0 nothing yet, 1 passed, 2 failed
  char why[256] = {};

  void pass() { store_wake(state, 1); }
  __attribute__((format(printf, 2, 3))) void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    store_wake(state, 2);
  }
};

// In a void function of a thread: report the failure and return.
#define RT_TCHECK(report, cond, ...) \
  do {                               \
    if (!(cond)) {                   \
      (report).fail(__VA_ARGS__);    \
      return;                        \
    }                                \
  } while (0)

// Problems found by the main thread, printed together as one verdict.
struct Verdict {
  std::string problems;
  int count = 0;

  __attribute__((format(printf, 2, 3))) void add(const char* fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (++count <= 8) problems += (problems.empty() ? "" : "; ") + std::string(msg);
  }

  // Waits (bounded) for a thread's report and adds its failure, if any.
  void take(Report& r, const char* who, double seconds) {
    if (!await_at_least(r.state, 1, seconds)) add("%s gave no report within %.0f s", who, seconds);
    else if (r.state.load() == 2) add("%s: %s", who, r.why);
  }

  // Prints the verdict and returns the exit status it calls for.
  int print() {
    if (count == 0) printf("PASS\n");
    else printf("FAIL: %s%s\n", problems.c_str(), count > 8 ? " (and more)" : "");
    fflush(stdout);
    return count == 0 ? 0 : 1;
  }

  [[noreturn]] void finish() { _exit(print()); }
};

}  // namespace rt
