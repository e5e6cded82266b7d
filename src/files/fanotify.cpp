// fanotify: the group (fanotify_init flags and event flags) and its marks
// on inodes, mounts and filesystems, each with its mask and ignore mask
// (fdinfo "fanotify flags:...", "fanotify ino:...", "fanotify mnt_id:...",
// "fanotify sdev:...").  An inode mark keeps the path its file handle finds
// (fsnotify.h); a mount mark the mount point; a filesystem mark a mount
// point of the filesystem.  Marks of other kinds (mount namespaces) are
// refused by name.  Queued events are lost, with a warning naming the fd
// (a permission event not yet answered is allowed by the kernel when the
// dumped group goes away).
#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/anon_fdinfo.h"
#include "files/fsnotify.h"
#include "files/identity.h"
#include "files/module.h"
#include "proc/mountinfo.h"

namespace ckpt::files {

namespace {

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[fanotify]"; }

std::string mark_name(const img::FanotifyMark& m) {
  switch (m.type()) {
    case img::FANOTIFY_MARK_INODE: return "its fanotify mark on " + m.path();
    case img::FANOTIFY_MARK_MOUNT: return format("its fanotify mark on mount %u (%s)", m.mnt_id(), m.path().c_str());
    case img::FANOTIFY_MARK_FILESYSTEM: return "its fanotify mark on the filesystem of " + m.path();
  }
  return "its fanotify mark";
}

uint64_t mount_id_of(int fd) {
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID)) return 0;
  return stx.stx_mnt_id;
}

void masks_of(const FdinfoFields& f, img::FanotifyMark& m) {
  m.set_mflags(uint32_t(f.hex("mflags")));
  m.set_mask(f.hex("mask"));
  m.set_ignored_mask(f.hex("ignored_mask"));
}

img::FanotifyMark inode_mark(const FdinfoFields& f) {
  img::FanotifyMark m;
  m.set_type(img::FANOTIFY_MARK_INODE);
  masks_of(f, m);
  MarkedInode inode = find_marked_inode(f, format("its fanotify mark on inode %llx", (unsigned long long)f.hex("ino")));
  m.set_path(inode.path);
  m.set_dev(inode.st.st_dev);
  m.set_ino(inode.st.st_ino);
  return m;
}

img::FanotifyMark mount_mark(const FdinfoFields& f) {
  img::FanotifyMark m;
  m.set_type(img::FANOTIFY_MARK_MOUNT);
  masks_of(f, m);
  int id = int(f.hex("mnt_id"));
  m.set_mnt_id(uint32_t(id));
  for (const proc::Mount& mount : proc::own_mounts()) {
    if (mount.id != id) continue;
    m.set_path(mount.mount_point);
    m.set_dev(mount.dev);
    // The mount point must lead to this mount, not one mounted over it.
    UniqueFd at(::open(mount.mount_point.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    uint64_t seen = at ? mount_id_of(at.get()) : 0;
    if (seen != uint64_t(id))
      throw Error(format("its fanotify mark on mount %d (%s) cannot be restored: that path leads to mount %llu",
                         id, mount.mount_point.c_str(), (unsigned long long)seen));
    return m;
  }
  throw Error(format("its fanotify mark is on mount %d, which is not among ckpt's mounts", id));
}

img::FanotifyMark filesystem_mark(const FdinfoFields& f) {
  img::FanotifyMark m;
  m.set_type(img::FANOTIFY_MARK_FILESYSTEM);
  masks_of(f, m);
  dev_t dev = kernel_dev(f.hex("sdev"));
  m.set_path(mount_point_of_dev(dev, "its fanotify filesystem mark"));
  m.set_dev(dev);
  return m;
}

// The group's marks, or the reason one cannot be restored.
std::vector<img::FanotifyMark> marks_of(const OpenFd& fd) {
  std::vector<img::FanotifyMark> out;
  for (const auto& [key, value] : fd.info.extra) {
    if (!key.starts_with("fanotify ") || key == "fanotify flags") continue;
    FdinfoFields f(key, value);
    if (key == "fanotify ino") out.push_back(inode_mark(f));
    else if (key == "fanotify mnt_id") out.push_back(mount_mark(f));
    else if (key == "fanotify sdev") out.push_back(filesystem_mark(f));
    else
      throw Error("it has a fanotify mark of a kind not supported yet (fdinfo \"" + key + ":" + value + "\")");
  }
  return out;
}

// "fanotify flags:2 event-flags:8000": the flags given to fanotify_init.
FdinfoFields group_flags(const OpenFd& fd) { return FdinfoFields("fanotify flags", fdinfo_value(fd.info, "fanotify flags")); }

std::string blocker(const OpenFd& fd, const DumpFdOptions&) {
  try {
    group_flags(fd).hex("event-flags");
    marks_of(fd);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  img::FanotifyEntry* e = entry.mutable_fanotify();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  FdinfoFields flags = group_flags(fd);
  // FAN_CLOEXEC and FAN_NONBLOCK too: the group keeps them (fdinfo shows
  // them), whatever the fd's flags are now.
  e->set_init_flags(uint32_t(flags.hex("flags")));
  e->set_event_flags(uint32_t(flags.hex("event-flags")));
  for (img::FanotifyMark& m : marks_of(fd)) *e->add_marks() = std::move(m);
  int queued = 0;
  if (ioctl(fd.file.get(), FIONREAD, &queued) == 0 && queued > 0)
    LOG_WARN("fd %d of pid %d: its fanotify group has %d bytes of events not yet read, which are lost (a restore "
             "cannot queue them again)",
             fd.fd, ctx.pid, queued);
}

// The file a mark is restored on (under --root: a mount mark marks the
// mount found there), checked to be what it was on.
UniqueFd open_mark_target(const img::FanotifyMark& m, const FsRoot& root) {
  std::string path = root.host(m.path());
  if (m.type() == img::FANOTIFY_MARK_INODE) return open_marked_inode(path, m.dev(), m.ino(), mark_name(m));
  UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error(mark_name(m) + ": cannot open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat " + path);
  if (m.has_dev() && st.st_dev != dev_t(m.dev()))
    throw Error(format("%s: %s is now on device %s, not %s", mark_name(m).c_str(), path.c_str(),
                       dev_name(st.st_dev).c_str(), dev_name(dev_t(m.dev())).c_str()));
  return fd;
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_fanotify()) throw Error("its file entry has no fanotify group");
  for (const img::FanotifyMark& m : entry.fanotify().marks()) open_mark_target(m, opts.root);
}

uint32_t type_flag(img::FanotifyMarkType type) {
  switch (type) {
    case img::FANOTIFY_MARK_INODE: return FAN_MARK_INODE;
    case img::FANOTIFY_MARK_MOUNT: return FAN_MARK_MOUNT;
    case img::FANOTIFY_MARK_FILESYSTEM: return FAN_MARK_FILESYSTEM;
  }
  throw Error(format("a fanotify mark of unknown type %d", int(type)));
}

void add_mark(int group, const img::FanotifyMark& m, const FsRoot& root) {
  UniqueFd target = open_mark_target(m, root);
  // fanotify_mark() takes no O_PATH fd itself: its /proc/self/fd path.
  std::string path = self_fd_path(target.get());
  uint32_t base = FAN_MARK_ADD | type_flag(m.type()) | (m.mflags() & FAN_MARK_EVICTABLE);
  if (m.mask() && fanotify_mark(group, base, m.mask(), AT_FDCWD, path.c_str()) < 0)
    throw sys_error(format("%s (mask %llx)", mark_name(m).c_str(), (unsigned long long)m.mask()));
  if (!m.ignored_mask()) return;
  // FAN_MARK_IGNORE (newer) shows in mflags; else the older ignored mask.
  uint32_t ignore = (m.mflags() & FAN_MARK_IGNORE) ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK;
  uint32_t flags = base | ignore | (m.mflags() & FAN_MARK_IGNORED_SURV_MODIFY);
  if (fanotify_mark(group, flags, m.ignored_mask(), AT_FDCWD, path.c_str()) < 0)
    throw sys_error(format("%s (ignore mask %llx)", mark_name(m).c_str(), (unsigned long long)m.ignored_mask()));
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::FanotifyEntry& e = entry.fanotify();
  UniqueFd fd(fanotify_init(e.init_flags(), e.event_flags()));
  if (!fd) throw sys_error(format("fanotify_init (flags %x, event flags %x)", e.init_flags(), e.event_flags()));
  // The fd's own flags, which may differ from the group's since F_SETFL.
  if (fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd.get(), F_SETFL, e.flags() & O_NONBLOCK) < 0)
    throw sys_error("cannot set the flags of the new fanotify group");
  for (const img::FanotifyMark& m : e.marks()) add_mark(fd.get(), m, target.opts.root);
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_fanotify()) return "?";
  const img::FanotifyEntry& e = entry.fanotify();
  std::string out = format("fanotify flags %x event flags %x (flags 0%o)", e.init_flags(), e.event_flags(), e.flags());
  for (const img::FanotifyMark& m : e.marks())
    out += format("; %s mask %llx ignore %llx", mark_name(m).c_str() + 4, (unsigned long long)m.mask(),
                  (unsigned long long)m.ignored_mask());
  return out;
}

}  // namespace

const FileModule kFanotifyModule = {
    .kind = img::FILE_FANOTIFY,
    .name = "fanotify",
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
