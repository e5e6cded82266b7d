// Opening an image for reading: O_NOFOLLOW and O_NONBLOCK so that neither a
// planted symlink (to /dev/zero, to a root-owned file) nor a FIFO can make a
// reader follow, block or read without end; then fstat, the only answer to
// what the fd really is.
#include "image/open_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "ckpt/error.h"

namespace ckpt::image {

std::string file_type_name(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "a file of unknown type";
  }
}

namespace detail {

std::string size_text(uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) return format("%llu GiB", (unsigned long long)(bytes >> 30));
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0) return format("%llu MiB", (unsigned long long)(bytes >> 20));
  return format("%llu bytes", (unsigned long long)bytes);
}

UniqueFd open_image_file(int dirfd, const std::string& rel, const std::string& name, uint64_t limit,
                         struct stat& st, bool* direct) {
  // A look before opening: opening a device node, even without reading,
  // may act on it (a tty, a tape).
  if (fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw sys_error("cannot open image " + name);
  if (!S_ISREG(st.st_mode))
    throw Error("cannot read image " + name + ": it is " + file_type_name(st.st_mode) + ", not a regular file");
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
  UniqueFd fd(openat(dirfd, rel.c_str(), flags | (direct && *direct ? O_DIRECT : 0)));
  // tmpfs and some others refuse O_DIRECT with EINVAL; buffered reads work.
  if (!fd && direct && *direct && errno == EINVAL) {
    *direct = false;
    fd.reset(openat(dirfd, rel.c_str(), flags));
  }
  if (!fd && errno == ELOOP)
    throw Error("cannot read image " + name + ": it is a symbolic link, not a regular file");
  if (!fd) throw sys_error("cannot open image " + name);
  // Whatever is there now: it may have been replaced since the look.
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat image " + name);
  if (!S_ISREG(st.st_mode))
    throw Error("cannot read image " + name + ": it is " + file_type_name(st.st_mode) + ", not a regular file");
  if (uint64_t(st.st_size) > limit)
    throw Error(format("cannot read image %s: it is %llu bytes, more than the %s an image of its kind may be",
                       name.c_str(), (unsigned long long)st.st_size, size_text(limit).c_str()));
  // Reads block again (O_DIRECT and page-cache reads of a regular file
  // never wait on a writer anyway).
  if (fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK) < 0)
    throw sys_error("cannot read image " + name);
  return fd;
}

}  // namespace detail
}  // namespace ckpt::image
