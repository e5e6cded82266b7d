#include "dump/link_remap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/shmem.h"

namespace ckpt::dump {

namespace {

// Enough tries to get past links left by earlier dumps of a tree that ran
// on (--leave-running), each of which names its own link.
constexpr int kMaxTries = 1000;

}  // namespace

std::string link_remap_name(const std::string& path, const std::string& tag, uint32_t id, int n) {
  std::string dir = mem::parent_dir(path);
  if (dir == "/") dir.clear();
  std::string name = format("%s/.ckpt_link_remap.%s.%u", dir.c_str(), tag.c_str(), id);
  if (n > 0) name += format(".%d", n);
  return name;
}

LinkRemaps::~LinkRemaps() {
  if (kept_) return;
  for (const std::string& name : made_) {
    if (unlink(name.c_str()) == 0)
      LOG_INFO("removed %s, the link of dump --link-remap, after the failed dump", name.c_str());
    else
      LOG_WARN("cannot remove %s, the link of dump --link-remap, after the failed dump: %s", name.c_str(),
               strerror(errno));
  }
}

std::string LinkRemaps::link(int fd, const std::string& path, const std::string& tag, uint32_t id) {
  // The magic link of our fd, followed: the inode itself, which linkat()
  // links again as long as it still has a name (st_nlink > 0).
  std::string via = format("/proc/self/fd/%d", fd);
  struct stat want;
  if (fstat(fd, &want) < 0) throw sys_error("cannot stat the deleted file " + path);
  for (int n = 0; n < kMaxTries; n++) {
    std::string name = link_remap_name(path, tag, id, n);
    if (linkat(AT_FDCWD, via.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) < 0) {
      if (errno == EEXIST) continue;
      throw sys_error(format("cannot link the deleted file %s back as %s (--link-remap)", path.c_str(), name.c_str()));
    }
    made_.push_back(name);
    struct stat got;
    if (lstat(name.c_str(), &got) < 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
      throw Error(format("cannot link the deleted file %s back as %s (--link-remap): the link names another file",
                         path.c_str(), name.c_str()));
    LOG_INFO("the deleted file %s is linked back as %s (--link-remap)", path.c_str(), name.c_str());
    return name;
  }
  throw Error(format("cannot link the deleted file %s back (--link-remap): %s and %d more names are taken",
                     path.c_str(), link_remap_name(path, tag, id, 0).c_str(), kMaxTries - 1));
}

}  // namespace ckpt::dump
