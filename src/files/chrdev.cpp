// The memory character devices (major 1): /dev/null, /dev/zero, /dev/full,
// /dev/random, /dev/urandom.  They hold no state: reopening the path is all.
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/identity.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

constexpr unsigned kMemMajor = 1;

bool is_stateless_mem_device(dev_t rdev) {
  if (major(rdev) != kMemMajor) return false;
  switch (minor(rdev)) {
    case 3:  // null
    case 5:  // zero
    case 7:  // full
    case 8:  // random
    case 9:  // urandom
      return true;
  }
  return false;
}

bool claims(const OpenFd& fd) { return S_ISCHR(fd.st.st_mode) && is_stateless_mem_device(fd.st.st_rdev); }

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  if (fd.link.empty() || fd.link[0] != '/' || is_deleted(fd))
    throw Error("its device node " + fd.link + " has no path to reopen");
  img::ChrdevEntry* dev = entry.mutable_chrdev();
  dev->set_path(fd.link);
  dev->set_rdev(uint32_t(fd.st.st_rdev));
  dev->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  dev->set_pos(fd.info.pos);
}

// The path must still be the same device, whatever its inode.
void check_device(const std::string& path, const struct stat& st, uint32_t rdev) {
  if (!S_ISCHR(st.st_mode) || st.st_rdev != rdev)
    throw Error(format("%s is no longer the character device %s", path.c_str(), dev_name(rdev).c_str()));
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_chrdev()) throw Error("its file entry has no device");
  std::string path = opts.root.host(entry.chrdev().path());
  struct stat st;
  if (stat(path.c_str(), &st) < 0) throw sys_error(path);
  check_device(path, st, entry.chrdev().rdev());
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  if (!entry.has_chrdev()) throw Error("its file entry has no device");
  const img::ChrdevEntry& dev = entry.chrdev();
  std::string path = target.opts.root.host(dev.path());  // the device node under --root
  int flags = int((dev.flags() & ~uint32_t(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY)) | O_CLOEXEC);
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) throw sys_error("cannot open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat " + path);
  check_device(path, st, dev.rdev());
  // These devices ignore the position, but keep what the process saw.
  if (dev.pos()) lseek(fd.get(), off_t(dev.pos()), SEEK_SET);
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_chrdev()) return "?";
  return format("%s (device %s, flags 0%o)", entry.chrdev().path().c_str(), dev_name(entry.chrdev().rdev()).c_str(),
                entry.chrdev().flags());
}

}  // namespace

const FileModule kChrdevModule = {
    .kind = img::FILE_CHRDEV,
    .name = "character device",
    .open_per_fd = false,
    .claims = claims,
    .blocker = nullptr,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
