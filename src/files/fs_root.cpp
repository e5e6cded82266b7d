#include "files/fs_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "ckpt/error.h"

namespace ckpt::files {

FsRoot FsRoot::at(const std::string& dir) {
  if (dir.empty()) return {};
  char* real = realpath(dir.c_str(), nullptr);
  if (!real) throw sys_error("cannot use " + dir + " as the root (--root)");
  std::string abs = real;
  free(real);
  struct stat st;
  if (stat(abs.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
    throw Error("cannot use " + dir + " as the root (--root): not a directory");
  FsRoot r;
  if (abs != "/") r.dir_ = abs;
  return r;
}

std::string FsRoot::host(std::string_view path) const {
  if (dir_.empty() || path.empty() || path[0] != '/') return std::string(path);
  if (path == "/") return dir_;
  return dir_ + std::string(path);
}

FsRoot::Entered FsRoot::enter() const {
  Entered e;
  if (dir_.empty()) return e;
  e.root_.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  e.cwd_.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!e.root_ || !e.cwd_) throw sys_error("cannot keep ckpt's root and directory to enter " + dir_);
  if (chroot(dir_.c_str()) < 0) {
    e.root_.reset();
    throw sys_error("cannot enter the root " + dir_);
  }
  if (chdir("/") < 0) {
    int err = errno;
    e.leave();
    throw sys_error("cannot enter the root " + dir_, err);
  }
  return e;
}

void FsRoot::Entered::leave() {
  if (!root_) return;
  // The old root's fd leads out of PATH (ckpt runs with CAP_SYS_CHROOT).
  if (fchdir(root_.get()) < 0 || chroot(".") < 0) throw sys_error("cannot leave the root (--root) again");
  root_.reset();
  if (fchdir(cwd_.get()) < 0) throw sys_error("cannot return to ckpt's working directory");
  cwd_.reset();
}

FsRoot::Entered::~Entered() {
  try {
    leave();
  } catch (const Error&) {
    // Unwinding already, or nothing to tell the caller: a task left inside
    // fails its next lookup of PATH + path, which names the path.
  }
}

}  // namespace ckpt::files
