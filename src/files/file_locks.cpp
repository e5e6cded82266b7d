#include "files/file_locks.h"

#include "ckpt/error.h"
#include "proc/fdinfo.h"
#include "proc/parse_util.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

using proc::detail::split_words;

// The kernel's words (fs/locks.c lock_get_status): "FLOCK  ADVISORY",
// "POSIX  ADVISORY", "OFDLCK ADVISORY", "LEASE  ACTIVE|BREAKING|BREAKER".
LockKind kind_of(std::string_view word) {
  if (word == "FLOCK") return LockKind::Flock;
  if (word == "POSIX") return LockKind::Posix;
  if (word == "OFDLCK") return LockKind::Ofd;
  if (word == "LEASE") return LockKind::Lease;
  return LockKind::Other;
}

std::optional<uint64_t> number(std::string_view word) {
  if (word.empty() || word.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : word) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

}  // namespace

FileLock parse_lock_line(std::string_view value) {
  FileLock lock;
  lock.text = std::string(value);
  std::vector<std::string_view> w = split_words(value);
  // id: KIND QUALIFIER TYPE PID DEV:INO START END
  if (w.size() < 8) return lock;
  lock.kind = kind_of(w[1]);
  if (w[3] != "READ" && w[3] != "WRITE") lock.kind = LockKind::Other;  // e.g. a lease being given up (UNLCK)
  lock.write = w[3] == "WRITE";
  if (lock.kind == LockKind::Posix || lock.kind == LockKind::Ofd) {
    lock.start = number(w[6]).value_or(0);
    if (w[7] != "EOF") lock.end = number(w[7]);
  }
  return lock;
}

std::string describe_lock(const FileLock& lock) {
  const char* type = lock.write ? "write" : "read";
  switch (lock.kind) {
    case LockKind::Flock: return format("a flock %s lock", type);
    case LockKind::Lease: return format("a %s lease", type);
    case LockKind::Other: return format("a lock (the kernel shows \"%s\")", lock.text.c_str());
    case LockKind::Posix:
    case LockKind::Ofd: break;
  }
  std::string s = format("%s %s %s lock", lock.kind == LockKind::Posix ? "a" : "an",
                         lock.kind == LockKind::Posix ? "POSIX" : "OFD", type);
  if (lock.start != 0 || lock.end)
    s += lock.end ? format(" (bytes %llu-%llu)", (unsigned long long)lock.start, (unsigned long long)*lock.end)
                  : format(" (bytes %llu to the end)", (unsigned long long)lock.start);
  return s;
}

void refuse_file_locks(pid_t pid, pid_t proc_id, const std::vector<int>& fds) {
  for (int fd : fds) {
    std::string info_path = proc::path(proc_id, "fdinfo/" + std::to_string(fd));
    // (The tree is frozen: its fds stay as listed.)
    proc::Fdinfo info = proc::parse_fdinfo(proc::read_file(info_path), info_path);
    for (const auto& [key, value] : info.extra) {
      if (key != "lock") continue;
      std::string file;
      try {
        file = proc::read_link(proc::path(proc_id, "fd/" + std::to_string(fd)));
      } catch (const Error&) {
        file = format("fd %d", fd);
      }
      throw Error(format("pid %d holds %s on %s: use --file-locks", pid, describe_lock(parse_lock_line(value)).c_str(),
                         file.c_str()));
    }
  }
}

}  // namespace ckpt::files
