#include "ckpt/fresh_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ckpt/error.h"

namespace ckpt {

UniqueFd create_fresh(int dirfd, const std::string& name, unsigned mode) {
  // unlinkat removes a symlink or one hard link itself, never its target.
  if (unlinkat(dirfd, name.c_str(), 0) < 0 && errno != ENOENT) return UniqueFd();
  UniqueFd fd(openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return fd;
  // The umask may only have narrowed the mode; make it exact.
  if (fchmod(fd.get(), mode) < 0) return UniqueFd();
  return fd;
}

void write_file_replacing(const std::string& path, const std::string& text, unsigned mode, const std::string& what) {
  std::string tmp = path + ".tmp";
  UniqueFd fd = create_fresh(AT_FDCWD, tmp, mode);
  if (!fd) throw sys_error("cannot write " + what + " " + path + ": cannot create " + tmp);
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      unlink(tmp.c_str());
      errno = saved;
      throw sys_error("cannot write " + what + " " + tmp);
    }
    p += n;
    left -= size_t(n);
  }
  if (::close(fd.release()) < 0 || rename(tmp.c_str(), path.c_str()) < 0) {
    int saved = errno;
    unlink(tmp.c_str());
    errno = saved;
    throw sys_error("cannot write " + what + " " + path);
  }
}

}  // namespace ckpt
