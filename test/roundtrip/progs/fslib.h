// Helpers of the round trips on working directories, roots and /proc
// entries: a parent with children it asks to check themselves.
#pragma once

#include "testlib.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>

namespace rt {

// Waits (bounded) for `sig`, blocked by the caller, from `from` (0: anyone).
inline void await_signal_from(int sig, pid_t from, const char* what) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  double deadline = now_seconds() + 60;
  for (;;) {
    double left = deadline - now_seconds();
    RT_CHECK(left > 0, "pid %d: no %s within 60 s", getpid(), what);
    timespec ts{time_t(left) + 1, 0};
    siginfo_t si;
    if (sigtimedwait(&one, &si, &ts) == sig && (from == 0 || si.si_pid == from)) return;
  }
}

// Asks child `pid` (waiting for SIGUSR2) to check itself and waits (bounded)
// for its exit status: 0 is a pass.
inline void check_child_passes(pid_t pid, const char* name) {
  RT_CHECK(kill(pid, SIGUSR2) == 0, "cannot signal %s (pid %d)", name, pid);
  double deadline = now_seconds() + 60;
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s (pid %d) failed its check (status 0x%x)", name,
               pid, status);
      return;
    }
    RT_CHECK(r == 0, "waitpid(%d): %s", pid, strerror(errno));
    RT_CHECK(now_seconds() < deadline, "%s (pid %d) did not end within 60 s", name, pid);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    timespec ts{0, 50 * 1000 * 1000};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

inline std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "?";
}

inline struct stat stat_of(const char* path) {
  struct stat st;
  RT_CHECK(stat(path, &st) == 0, "pid %d: stat %s: %s", getpid(), path, strerror(errno));
  return st;
}

// A deleted directory `path` with that mode and owner: no links, and no
// name any more.
inline void check_deleted_dir(const char* path, const struct stat& st, mode_t mode, uid_t uid, gid_t gid,
                              const std::string& name) {
  RT_CHECK(S_ISDIR(st.st_mode), "pid %d: %s is not a directory", getpid(), path);
  RT_CHECK(st.st_nlink == 0, "pid %d: %s has %lu links, want 0 (deleted)", getpid(), path,
           (unsigned long)st.st_nlink);
  RT_CHECK((st.st_mode & 07777) == mode, "pid %d: %s has mode 0%o, want 0%o", getpid(), path,
           unsigned(st.st_mode & 07777), unsigned(mode));
  RT_CHECK(st.st_uid == uid && st.st_gid == gid, "pid %d: %s is owned by %u:%u, want %u:%u", getpid(), path,
           unsigned(st.st_uid), unsigned(st.st_gid), unsigned(uid), unsigned(gid));
  struct stat there;
  RT_CHECK(name.empty() || stat(name.c_str(), &there) < 0, "pid %d: %s exists again", getpid(), name.c_str());
}

inline bool same_inode(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace rt
