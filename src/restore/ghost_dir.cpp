// Deleted directories (a working directory, a root, an fd on one), made
// again by ckpt before any task exists and removed again once ckpt holds an
// fd of each: every task then enters its own with fchdir (and chroot "."),
// and /proc shows it "PATH (deleted)" as before.
//
// Each is made where it was.  If its path is taken it is made next to it
// ("PATH.ckpt-ghost-N"); if ancestors are gone (an rmdir'ed tree) they are
// made too, with the mode and owner the dump saw, and removed with it, so
// that ".." leads where it led.  All are made before any is removed: one
// ghost directory may be the parent of another (a root and a working
// directory below it, both deleted), and deleted files are made in them
// before they go.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/shmem.h"
#include "restore/shared_memory.h"

namespace ckpt::restore {

namespace {

// The directories a restore made, removed when it goes (last made first),
// whatever happens.
class MadeDirs {
 public:
  ~MadeDirs() {
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it)
      if (rmdir(it->c_str()) < 0) LOG_WARN("cannot remove %s again: %s", it->c_str(), strerror(errno));
  }
  void add(std::string path) { paths_.push_back(std::move(path)); }
  // Removes them now; throws if one cannot go (it would stay visible).
  void remove_all() {
    while (!paths_.empty()) {
      std::string p = std::move(paths_.back());
      paths_.pop_back();
      if (rmdir(p.c_str()) < 0) throw sys_error("cannot remove the directory " + p + " again");
    }
  }

 private:
  std::vector<std::string> paths_;
};

// "/a/b/c" -> {"/a", "/a/b"}: the ancestors below "/", outermost first.
std::vector<std::string> ancestors_of(const std::string& path) {
  std::vector<std::string> out;
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1))
    out.push_back(path.substr(0, at));
  return out;
}

void set_owner_and_mode(const std::string& path, int fd, uint32_t mode, uint32_t uid, uint32_t gid) {
  if (fchown(fd, uid, gid) < 0)
    LOG_WARN("the deleted directory %s cannot be given its owner %u:%u: %s", path.c_str(), uid, gid, strerror(errno));
  if (fchmod(fd, mode & 07777) < 0) throw sys_error("cannot set the mode of the deleted directory " + path);
}

UniqueFd open_dir(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot open the directory " + path);
  return fd;
}

}  // namespace

std::string SharedMemory::describe_ghost_dir(const Ghost& g) const {
  std::string who = g.user ? format(" (of pid %d)", g.user) : "";
  return "the deleted directory " + g.head.path() + who;
}

void SharedMemory::check_ghost_dir(const Ghost& g) const {
  // The nearest ancestor still there is where the missing ones are made.
  std::vector<std::string> up = ancestors_of(root_.host(g.head.path()));
  for (auto it = up.rbegin(); it != up.rend(); ++it) {
    struct stat st;
    if (stat(it->c_str(), &st) < 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;  // missing, or a file above it
      throw sys_error("cannot restore " + describe_ghost_dir(g) + ": " + *it);
    }
    if (!S_ISDIR(st.st_mode))
      throw Error(format("cannot restore %s: %s is not a directory any more", describe_ghost_dir(g).c_str(),
                         it->c_str()));
    return;
  }
}

bool SharedMemory::is_ghost_dir(const std::string& path) const {
  for (const auto& [id, g] : ghosts_)
    if (S_ISDIR(g.head.mode()))
      for (const std::string& p : mem::deleted_dir_paths(g.head.path(), g.head.deleted_parents_size()))
        if (p == path) return true;
  return false;
}

std::string SharedMemory::ghost_dir_path(const std::string& path) const {
  std::string parent = mem::parent_dir(path);
  auto it = moved_dirs_.find(parent);
  return it == moved_dirs_.end() ? path : it->second + path.substr(parent.size());
}

void SharedMemory::create_ghost_dirs(const std::function<void()>& inside) {
  std::vector<Ghost*> dirs;
  for (auto& [id, g] : ghosts_)
    if (S_ISDIR(g.head.mode())) dirs.push_back(&g);
  // Parents first.
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const Ghost* a, const Ghost* b) { return a->head.path().size() < b->head.path().size(); });
  MadeDirs made;
  std::map<std::string, std::string>& moved = moved_dirs_;
  for (Ghost* g : dirs) {
    const img::GhostHead& h = g->head;
    std::string what = "cannot restore " + describe_ghost_dir(*g);
    const std::string want = root_.host(h.path());  // where it was, under --root
    // Inside another ghost directory that had to be made elsewhere: follow it.
    std::string path = ghost_dir_path(want);
    // Missing ancestors, outermost first; the k-th above it is
    // deleted_parents[k - 1] when the dump saw it deleted too.
    std::vector<std::string> up = ancestors_of(path);
    for (size_t i = 0; i < up.size(); i++) {
      if (mkdir(up[i].c_str(), 0700) < 0) {
        if (errno == EEXIST) continue;
        throw sys_error(what + ": cannot make its ancestor " + up[i]);
      }
      made.add(up[i]);
      size_t level = up.size() - i;
      UniqueFd fd = open_dir(up[i]);
      if (level <= size_t(h.deleted_parents_size())) {
        const img::GhostDirParent& p = h.deleted_parents(int(level - 1));
        set_owner_and_mode(up[i], fd.get(), p.mode(), p.uid(), p.gid());
      } else {
        LOG_WARN("%s: its ancestor %s, there at dump, is gone; made for the restore and removed again",
                 describe_ghost_dir(*g).c_str(), up[i].c_str());
      }
    }
    std::string at = path;
    for (int n = 1; mkdir(at.c_str(), 0700) < 0; n++) {
      if (errno != EEXIST || n > 100) throw sys_error(what + " at " + at);
      at = mem::ghost_alternative(path, n);  // the path is taken: next to it
    }
    made.add(at);
    if (at != want) {
      moved[want] = at;
      LOG_WARN("the deleted directory %s was restored as %s: its path is taken", want.c_str(), at.c_str());
    }
    g->fd = open_dir(at);
    set_owner_and_mode(at, g->fd.get(), h.mode(), h.uid(), h.gid());
    LOG_INFO("deleted directory %s restored (ghost %u)", at.c_str(), h.id());
  }
  inside();
  // ckpt holds each: the names go, innermost first.
  made.remove_all();
}

}  // namespace ckpt::restore
