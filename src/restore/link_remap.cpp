// Deleted files that dump --link-remap linked back into the file system
// (GhostHead.link_remap, dump/link_remap.h): the file still had other
// names, so its inode is taken back rather than made anew, and the tasks
// share it with those names again.
//
// Before anything is created (check): the link is there and is the dumped
// inode, and the file's path is free.  In ckpt, before any task (relink):
// the link is linked to the path, the path opened and checked, and removed
// again, so that every fd and area opened from ckpt's fd shows
// "PATH (deleted)" as at the dump.  Once the restore succeeded (commit):
// the link is removed; a restore that fails before keeps it, and the images
// can be restored again.  A second restore of the same images finds the
// link gone and says so.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/identity.h"
#include "restore/shared_memory.h"

namespace ckpt::restore {

namespace {

std::string mismatch(const img::GhostHead& h, const struct stat& st) {
  if (h.dev() == st.st_dev && h.ino() == st.st_ino) return "";
  return format("it is no longer the file that was dumped (inode %llu on device %s, now inode %llu on %s)",
                (unsigned long long)h.ino(), files::dev_name(dev_t(h.dev())).c_str(), (unsigned long long)st.st_ino,
                files::dev_name(st.st_dev).c_str());
}

}  // namespace

void SharedMemory::check_link_remap(const Ghost& g) const {
  const img::GhostHead& h = g.head;
  std::string link = root_.host(h.link_remap()), path = root_.host(h.path());
  std::string what = "cannot restore the deleted file " + path + (g.user ? format(" of pid %d", g.user) : "");
  struct stat st;
  if (lstat(link.c_str(), &st) < 0) {
    if (errno == ENOENT)
      throw Error(format("%s: its link %s (made by dump --link-remap) is gone; a restore of these images removes "
                         "it once it succeeded, so they restore once",
                         what.c_str(), link.c_str()));
    throw sys_error(format("%s: cannot stat its link %s (dump --link-remap)", what.c_str(), link.c_str()));
  }
  std::string why = mismatch(h, st);
  if (!why.empty()) throw Error(format("%s: its link %s (dump --link-remap): %s", what.c_str(), link.c_str(), why.c_str()));
  if (lstat(path.c_str(), &st) == 0)
    throw Error(format("%s from its link %s (dump --link-remap): %s is taken by another file", what.c_str(),
                       link.c_str(), path.c_str()));
  if (errno != ENOENT) throw sys_error(format("%s: cannot stat %s", what.c_str(), path.c_str()));
}

void SharedMemory::relink(Ghost& g) {
  const img::GhostHead& h = g.head;
  std::string link = root_.host(h.link_remap()), path = root_.host(h.path());
  std::string what = "cannot restore the deleted file " + path;
  // Opened by its own path, so that its fds show that path, " (deleted)".
  if (::link(link.c_str(), path.c_str()) < 0)
    throw sys_error(format("%s: cannot link %s (dump --link-remap) to it", what.c_str(), link.c_str()));
  UniqueFd fd;
  try {
    fd.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd && (errno == EACCES || errno == EROFS || errno == ETXTBSY)) {
      LOG_WARN("the deleted file %s is restored read-only: %s", path.c_str(), strerror(errno));
      fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    }
    if (!fd) throw sys_error(what + ": cannot open it");
    struct stat st;
    if (fstat(fd.get(), &st) < 0) throw sys_error(what + ": cannot stat it");
    std::string why = mismatch(h, st);
    if (!why.empty()) throw Error(what + ": " + why);
  } catch (...) {
    unlink(path.c_str());
    throw;
  }
  if (unlink(path.c_str()) < 0) throw sys_error(what + ": cannot remove its name again");
  LOG_INFO("deleted file %s restored from its link %s (ghost %u, --link-remap)", path.c_str(), link.c_str(), h.id());
  g.fd = std::move(fd);
}

void SharedMemory::remove_link_remaps() {
  for (const auto& [id, g] : ghosts_) {
    if (!g.head.has_link_remap()) continue;
    std::string link = root_.host(g.head.link_remap());
    // The tree is restored: a link that cannot go is only left over.
    if (unlink(link.c_str()) < 0)
      LOG_WARN("cannot remove %s, the link dump --link-remap made for %s: %s", link.c_str(), g.head.path().c_str(),
               strerror(errno));
    else
      LOG_INFO("removed %s, the link dump --link-remap made for %s", link.c_str(), g.head.path().c_str());
  }
}

}  // namespace ckpt::restore
