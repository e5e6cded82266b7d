#include "files/fsnotify.h"

#include <fcntl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <vector>

#include "ckpt/error.h"
#include "files/identity.h"
#include "proc/mountinfo.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

// The mounts of `dev`, those showing the filesystem's root first: a path
// found through them is the one most likely to be reachable.
std::vector<proc::Mount> mounts_of(dev_t dev) {
  std::vector<proc::Mount> out;
  for (proc::Mount& m : proc::own_mounts())
    if (m.dev == dev) out.push_back(std::move(m));
  std::stable_partition(out.begin(), out.end(), [](const proc::Mount& m) { return m.root == "/"; });
  return out;
}

// The inode of `handle` opened through the mount at `mount_point`.
UniqueFd open_handle(const std::string& mount_point, int type, const std::string& bytes) {
  // open_by_handle_at() takes no O_PATH fd for the mount.
  UniqueFd mount_fd(::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!mount_fd) return {};
  std::vector<unsigned char> buf(sizeof(struct file_handle) + bytes.size());
  auto* fh = reinterpret_cast<struct file_handle*>(buf.data());
  fh->handle_bytes = unsigned(bytes.size());
  fh->handle_type = type;
  std::copy(bytes.begin(), bytes.end(), fh->f_handle);
  return UniqueFd(open_by_handle_at(mount_fd.get(), fh, O_PATH | O_CLOEXEC));
}

bool same_inode(const struct stat& st, dev_t dev, uint64_t ino) { return st.st_dev == dev && st.st_ino == ino; }

}  // namespace

dev_t kernel_dev(uint64_t sdev) { return makedev(unsigned(sdev >> 20), unsigned(sdev & 0xfffff)); }

std::string self_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

MarkedInode find_marked_inode(const FdinfoFields& mark, const std::string& what) {
  uint64_t ino = mark.hex("ino");
  dev_t dev = kernel_dev(mark.hex("sdev"));
  std::string inode = format("inode %llu on device %s", (unsigned long long)ino, dev_name(dev).c_str());
  uint64_t size = mark.has("fhandle-bytes") ? mark.hex("fhandle-bytes") : 0;
  if (size == 0 || !mark.has("f_handle"))
    throw Error(what + " is on " + inode + ", whose filesystem gives no file handle to find its path by; not "
                "supported yet");
  std::string bytes = fdinfo_hex_bytes(mark.text("f_handle"), "f_handle");
  if (bytes.size() != size) throw Error("cannot parse " + mark.origin() + ": f_handle is not fhandle-bytes long");
  int type = int(mark.hex("fhandle-type"));
  std::vector<proc::Mount> mounts = mounts_of(dev);
  if (mounts.empty()) throw Error(what + " is on " + inode + ", and no filesystem of that device is mounted");
  std::string seen;
  for (const proc::Mount& m : mounts) {
    UniqueFd fd = open_handle(m.mount_point, type, bytes);
    if (!fd) continue;
    struct stat st;
    if (fstat(fd.get(), &st) < 0 || !same_inode(st, dev, ino)) continue;
    std::string path = proc::read_link(self_fd_path(fd.get()));
    struct stat by_path;
    // A deleted or disconnected inode shows a path that does not lead back.
    if (!path.empty() && path[0] == '/' && lstat(path.c_str(), &by_path) == 0 && same_inode(by_path, dev, ino))
      return {path, st};
    seen = path;
  }
  if (!seen.empty())
    throw Error(what + " is on " + inode + " (" + seen + "), which no path leads to any more (deleted?); not "
                "supported yet");
  throw Error(what + " is on " + inode + ", which its file handle does not find");
}

UniqueFd open_marked_inode(const std::string& path, uint64_t dev, uint64_t ino, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw sys_error(what + " was on " + path + ", which cannot be opened");
  struct stat st;
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat " + path);
  if (!same_inode(st, dev_t(dev), ino))
    throw Error(format("%s was on %s, which is now another file (device %s inode %llu, not %s inode %llu)",
                       what.c_str(), path.c_str(), dev_name(st.st_dev).c_str(), (unsigned long long)st.st_ino,
                       dev_name(dev_t(dev)).c_str(), (unsigned long long)ino));
  return fd;
}

std::string mount_point_of_dev(dev_t dev, const std::string& what) {
  std::vector<proc::Mount> mounts = mounts_of(dev);
  if (mounts.empty()) throw Error(what + " is on device " + dev_name(dev) + ", which is not mounted");
  return mounts.front().mount_point;
}

}  // namespace ckpt::files
