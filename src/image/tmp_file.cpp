#include "image/tmp_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ckpt::image::detail {

void write_all(int fd, const void* data, size_t size, const std::string& name) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("cannot write image " + name);
    if (n == 0) throw Error("cannot write image " + name + ": write returned 0");
    p += n;
    size -= size_t(n);
  }
}

TmpFile::TmpFile(const ImageDir& dir, Kind kind, std::optional<uint64_t> id, bool readable)
    : dirfd_(dir.fd()), final_(filename(kind, id)), tmp_(final_ + ".tmp"), path_(dir.path_of(kind, id)) {
  // A stale temporary file from a crashed run is ours to replace; creating
  // with O_EXCL afterwards guarantees a fresh inode we made, not a symlink.
  if (unlinkat(dirfd_, tmp_.c_str(), 0) < 0 && errno != ENOENT)
    throw sys_error("cannot create image " + path_ + ": cannot remove stale " + tmp_);
  fd_.reset(openat(dirfd_, tmp_.c_str(), (readable ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd_) throw sys_error("cannot create image " + path_);
  // The umask may only have narrowed 0600, but make the mode exact anyway so
  // that images never depend on the caller's umask.
  if (fchmod(fd_.get(), 0600) < 0) throw sys_error("cannot set the mode of image " + path_);
}

TmpFile::~TmpFile() {
  if (committed_) return;
  fd_.reset();
  unlinkat(dirfd_, tmp_.c_str(), 0);
}

void TmpFile::check_open() const {
  if (!fd_) throw Error("cannot write image " + path_ + ": it is already committed");
}

void TmpFile::commit(Sync sync) {
  check_open();
  if (sync == Sync::Now && fsync(fd_.get()) < 0) throw sys_error("cannot sync image " + path_);
  // close() can report a deferred write error (NFS); do not lose it.
  if (::close(fd_.release()) < 0) throw sys_error("cannot close image " + path_);
  if (renameat(dirfd_, tmp_.c_str(), dirfd_, final_.c_str()) < 0)
    throw sys_error("cannot rename " + tmp_ + " to image " + path_);
  committed_ = true;
}

}  // namespace ckpt::image::detail
