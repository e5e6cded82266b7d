#include "files/file_locks.h"

#include <fcntl.h>
#include <sys/file.h>

#include "ckpt/error.h"
#include "files/files.h"
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
  lock.file = std::string(w[5]);
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

// Why --file-locks cannot take `lock`, or "".
static std::string not_restorable(const FileLock& lock) {
  if (lock.kind == LockKind::Lease) return "leases are not supported yet";
  if (lock.kind == LockKind::Other) return "ckpt cannot take such a lock again";
  return "";
}

// Whether /proc/PID/maps (`maps`) has an area of the file "MAJ:MIN:INO".
static bool maps_file(const std::string& maps, const std::string& file) {
  size_t colon = file.rfind(':');
  if (colon == std::string::npos) return false;
  std::string dev = file.substr(0, colon), ino = file.substr(colon + 1);
  for (size_t at = 0; at < maps.size();) {
    size_t end = maps.find('\n', at);
    if (end == std::string::npos) end = maps.size();
    std::vector<std::string_view> w = split_words(std::string_view(maps).substr(at, end - at));
    if (w.size() >= 5 && w[3] == dev && w[4] == ino) return true;
    at = end + 1;
  }
  return false;
}

void refuse_file_locks(pid_t pid, pid_t proc_id, const std::vector<int>& fds, bool file_locks) {
  std::optional<std::string> maps;  // read at the first POSIX lock
  for (int fd : fds) {
    std::string info_path = proc::path(proc_id, "fdinfo/" + std::to_string(fd));
    // (The tree is frozen: its fds stay as listed.)
    proc::Fdinfo info = proc::parse_fdinfo(proc::read_file(info_path), info_path);
    for (const auto& [key, value] : info.extra) {
      if (key != "lock") continue;
      FileLock lock = parse_lock_line(value);
      std::string why = file_locks ? not_restorable(lock) : "use --file-locks";
      if (why.empty() && lock.kind == LockKind::Posix) {
        if (!maps) maps = proc::read_file(proc::path(proc_id, "maps"));
        if (maps_file(*maps, lock.file))
          why = "the process also maps that file, and a POSIX lock on a mapped file is not supported yet (the restore "
                "would drop it)";
      }
      if (why.empty()) continue;
      std::string file;
      try {
        file = proc::read_link(proc::path(proc_id, "fd/" + std::to_string(fd)));
      } catch (const Error&) {
        file = format("fd %d", fd);
      }
      throw Error(format("pid %d holds %s on %s: %s", pid, describe_lock(lock).c_str(), file.c_str(), why.c_str()));
    }
  }
}

// ---- --file-locks --------------------------------------------------------------

namespace {

FileLock as_lock(const img::FileLockEntry& e) {
  FileLock lock;
  lock.kind = e.kind() == img::LOCK_FLOCK ? LockKind::Flock : e.kind() == img::LOCK_POSIX ? LockKind::Posix : LockKind::Ofd;
  lock.write = e.write();
  lock.start = e.start();
  if (e.has_end()) lock.end = e.end();
  return lock;
}

bool same_lock(const img::FileLockEntry& a, const img::FileLockEntry& b) {
  return a.kind() == b.kind() && a.write() == b.write() && a.start() == b.start() && a.has_end() == b.has_end() &&
         a.end() == b.end() && a.pid() == b.pid();
}

// F_SETLK / F_OFD_SETLK of one lock on `fd`, without waiting.
void take_range_lock(const img::FileLockEntry& lock, int fd) {
  if (lock.has_end() && lock.end() < lock.start()) throw Error("its lock ends before it starts");
  struct flock fl {};
  fl.l_type = lock.write() ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = off_t(lock.start());
  fl.l_len = lock.has_end() ? off_t(lock.end() - lock.start() + 1) : 0;
  int cmd = lock.kind() == img::LOCK_POSIX ? F_SETLK : F_OFD_SETLK;
  if (fcntl(fd, cmd, &fl) < 0) {
    int err = errno;
    if (err == EAGAIN || err == EACCES)
      throw Error("cannot take " + describe_lock(lock) + " again: another process holds a conflicting lock");
    throw sys_error("cannot take " + describe_lock(lock) + " again", err);
  }
}

}  // namespace

std::string describe_lock(const img::FileLockEntry& lock) {
  std::string s = describe_lock(as_lock(lock));
  if (lock.kind() == img::LOCK_POSIX) s += format(" of pid %u", lock.pid());
  return s;
}

void save_file_locks(const proc::Fdinfo& info, pid_t pid, img::FileEntry& entry) {
  for (const auto& [key, value] : info.extra) {
    if (key != "lock") continue;
    FileLock lock = parse_lock_line(value);
    if (std::string why = not_restorable(lock); !why.empty())
      throw Error(format("it holds %s: %s", describe_lock(lock).c_str(), why.c_str()));
    img::FileLockEntry e;
    e.set_kind(lock.kind == LockKind::Flock ? img::LOCK_FLOCK : lock.kind == LockKind::Posix ? img::LOCK_POSIX : img::LOCK_OFD);
    e.set_write(lock.write);
    if (lock.kind != LockKind::Flock) {
      e.set_start(lock.start);
      if (lock.end) e.set_end(*lock.end);
    }
    // A POSIX lock shows only on its owner's fds; the others belong to the
    // description, whoever shows them.
    if (lock.kind == LockKind::Posix) e.set_pid(uint32_t(pid));
    bool known = false;
    for (const img::FileLockEntry& have : entry.locks()) known = known || same_lock(have, e);
    if (!known) *entry.add_locks() = std::move(e);
  }
}

void check_file_locks(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (entry.locks().empty() || opts.file_locks) return;
  throw Error("it holds " + describe_lock(entry.locks(0)) + "; restore with --file-locks");
}

void take_description_locks(const img::FileEntry& entry, int fd) {
  for (const img::FileLockEntry& lock : entry.locks()) {
    if (lock.kind() == img::LOCK_POSIX) continue;
    if (lock.kind() == img::LOCK_OFD) {
      take_range_lock(lock, fd);
      continue;
    }
    if (lock.kind() != img::LOCK_FLOCK) throw Error(format("it holds a lock of unknown kind %d", int(lock.kind())));
    if (flock(fd, (lock.write() ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
      int err = errno;
      if (err == EWOULDBLOCK)
        throw Error("cannot take " + describe_lock(lock) + " again: another description holds a conflicting lock");
      throw sys_error("cannot take " + describe_lock(lock) + " again", err);
    }
  }
}

void take_posix_locks(const FilesImage& image, int pid) {
  std::set<uint32_t> done;
  for (const img::FdinfoEntry& e : image.fds_of(pid)) {
    if (!done.insert(e.id()).second) continue;
    for (const img::FileLockEntry& lock : image.file(e.id()).locks()) {
      if (lock.kind() != img::LOCK_POSIX || lock.pid() != uint32_t(pid)) continue;
      try {
        take_range_lock(lock, int(e.fd()));
      } catch (const Error& err) {
        throw Error(format("cannot restore fd %u of pid %d: %s", e.fd(), pid, err.what()));
      }
    }
  }
}

}  // namespace ckpt::files
