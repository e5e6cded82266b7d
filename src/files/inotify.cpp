// inotify: every watch with its path and mask, under its watch descriptor
// (fdinfo "inotify wd:2 ino:3ad sdev:fe00000 mask:100 ... f_handle:...").
//
// Paths: the kernel keeps the watched inode, not its path; the file handle
// fdinfo shows finds it (fsnotify.h), and its path is kept if it leads back
// to that inode.  Restore checks the path is still that inode.
//
// Watch descriptors: the kernel numbers a new watch one past the last
// number it gave (idr_alloc_cyclic), whatever has been removed since.  A
// new instance starts at 1, so restore adds the watches in increasing wd
// order and, for each number below a watch's that no watch has, a dummy
// watch (on a pipe of our own) removed at once: each watch gets its number
// back.  Their IN_IGNORED events are read off before the instance is handed
// over.  What the kernel would give the program's next new watch is not
// shown: after restore it is one past the highest kept.
//
// Events queued and not read at dump cannot be read without taking them
// from the process: they are lost, with a warning in the log naming the fd.
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/anon_fdinfo.h"
#include "files/fsnotify.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

// How many numbers restore fills with dummies at most (each two syscalls).
constexpr uint32_t kMaxGap = 1u << 20;

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:inotify"; }

std::string watch_name(uint32_t wd) { return format("its inotify watch %u", wd); }

std::vector<img::InotifyWatch> watches_of(const OpenFd& fd) {
  std::vector<img::InotifyWatch> out;
  for (const FdinfoFields& f : fdinfo_objects(fd.info, "inotify wd")) {
    img::InotifyWatch w;
    w.set_wd(uint32_t(f.dec("wd")));
    w.set_mask(uint32_t(f.hex("mask")));
    MarkedInode inode = find_marked_inode(f, watch_name(w.wd()));
    w.set_path(inode.path);
    w.set_dev(inode.st.st_dev);
    w.set_ino(inode.st.st_ino);
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.wd() < b.wd(); });
  return out;
}

// Pre-flight: a watch whose path cannot be found is refused before the tree
// is touched.
std::string blocker(const OpenFd& fd, const DumpFdOptions&) {
  try {
    watches_of(fd);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void warn_unread_events(const OpenFd& fd, const DumpFdContext& ctx) {
  int queued = 0;
  if (ioctl(fd.file.get(), FIONREAD, &queued) == 0 && queued > 0)
    LOG_WARN("fd %d of pid %d: its inotify instance has %d bytes of events not yet read, which are lost (a "
             "restore cannot queue them again)",
             fd.fd, ctx.pid, queued);
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  img::InotifyEntry* e = entry.mutable_inotify();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  for (img::InotifyWatch& w : watches_of(fd)) *e->add_watches() = std::move(w);
  warn_unread_events(fd, ctx);
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_inotify()) throw Error("its file entry has no inotify instance");
  uint32_t last = 0;
  for (const img::InotifyWatch& w : entry.inotify().watches()) {
    if (w.wd() <= last || w.wd() > uint32_t(INT32_MAX))
      throw Error(format("its inotify watches are not in increasing order (%u after %u)", w.wd(), last));
    if (w.wd() - last - 1 > kMaxGap)
      throw Error(format("%s comes %u numbers after the one before it: restoring its number would take more "
                         "than %u dummy watches; not supported",
                         watch_name(w.wd()).c_str(), w.wd() - last - 1, kMaxGap));
    open_marked_inode(opts.root.host(w.path()), w.dev(), w.ino(), watch_name(w.wd()));
    last = w.wd();
  }
}

// Watch numbers below `wd` taken and given back, so that the next watch
// added gets `wd`; `next` is the number the kernel gives next.
void skip_to(int inotify, uint32_t& next, uint32_t wd, UniqueFd (&dummy)[2]) {
  if (next == wd) return;
  if (!dummy[0]) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) throw sys_error("pipe");
    dummy[0].reset(p[0]);
    dummy[1].reset(p[1]);
  }
  std::string path = self_fd_path(dummy[0].get());
  for (; next < wd; next++) {
    int got = inotify_add_watch(inotify, path.c_str(), IN_MODIFY);
    if (got < 0) throw sys_error("cannot add a dummy inotify watch");
    inotify_rm_watch(inotify, got);
    if (uint32_t(got) != next)
      throw Error(format("the kernel numbered a new inotify watch %d, not %u: cannot restore %s", got, next,
                         watch_name(wd).c_str()));
  }
}

// The IN_IGNORED events of the dummies (and whatever came meanwhile).
void drain(int inotify) {
  alignas(struct inotify_event) char buf[65536];
  while (read(inotify, buf, sizeof(buf)) > 0) {
  }
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::InotifyEntry& e = entry.inotify();
  UniqueFd fd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd) throw sys_error("inotify_init1");
  UniqueFd dummy[2];
  uint32_t next = 1;
  for (const img::InotifyWatch& w : e.watches()) {
    skip_to(fd.get(), next, w.wd(), dummy);
    std::string path = target.opts.root.host(w.path());
    UniqueFd inode = open_marked_inode(path, w.dev(), w.ino(), watch_name(w.wd()));
    // Through /proc/self/fd: the checked inode itself, a symlink too.
    int got = inotify_add_watch(fd.get(), self_fd_path(inode.get()).c_str(), w.mask());
    if (got < 0)
      throw sys_error(format("cannot add %s on %s (mask %x)", watch_name(w.wd()).c_str(), path.c_str(), w.mask()));
    if (uint32_t(got) != w.wd())
      throw Error(format("%s on %s came back as watch %d", watch_name(w.wd()).c_str(), path.c_str(), got));
    next = w.wd() + 1;
  }
  if (dummy[0]) drain(fd.get());
  if (!(e.flags() & O_NONBLOCK) && fcntl(fd.get(), F_SETFL, e.flags() & O_NONBLOCK) < 0)
    throw sys_error("cannot clear O_NONBLOCK of the new inotify instance");
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_inotify()) return "?";
  std::string out = format("inotify (flags 0%o)", entry.inotify().flags());
  for (const img::InotifyWatch& w : entry.inotify().watches())
    out += format(" %u:%s:%x", w.wd(), w.path().c_str(), w.mask());
  return out;
}

}  // namespace

const FileModule kInotifyModule = {
    .kind = img::FILE_INOTIFY,
    .name = "inotify",
    .open_per_fd = false,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
