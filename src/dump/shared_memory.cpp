#include "dump/shared_memory.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"

namespace ckpt::dump {

namespace {

constexpr int kAnonKey = 0, kMemfdKey = 1, kSysvKey = 2;
constexpr size_t kGhostChunk = 1 << 20;

uint64_t round_up(uint64_t v, uint64_t page) { return (v + page - 1) & ~(page - 1); }

int64_t mtime_ns(const struct stat& st) { return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec; }

bool on_hugetlbfs(int fd) {
  struct statfs fs;
  return fstatfs(fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC;
}

std::string map_file_path(pid_t pid, const proc::MapsEntry& area) {
  return proc::path(pid, format("map_files/%llx-%llx", (unsigned long long)area.start, (unsigned long long)area.end));
}

// The object behind an area, opened by ckpt, read-only.
UniqueFd open_area_object(pid_t pid, const proc::MapsEntry& area) {
  std::string path = map_file_path(pid, area);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw mem::area_error(area, pid, format("cannot open it through %s: %s", path.c_str(), strerror(errno)));
  return fd;
}

uint32_t memfd_seals(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  return seals < 0 ? 0 : uint32_t(seals);
}

const char* kind_name(img::ShmemKind kind) {
  switch (kind) {
    case img::SHMEM_ANON: return "shared anonymous memory";
    case img::SHMEM_MEMFD: return "memfd";
    case img::SHMEM_SYSV: return "SysV segment";
  }
  return "shared memory";
}

// Sends [from, from + len) of `in` to the end of `out`, without passing
// through our memory.
void send_all(int out, int in, uint64_t from, uint64_t len, const std::string& what) {
  off_t at = off_t(from);
  while (len > 0) {
    ssize_t n = sendfile(out, in, &at, size_t(std::min<uint64_t>(len, 1u << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("cannot save the pages of " + what);
    if (n == 0) throw Error(format("cannot save the pages of %s: it ends at %lld", what.c_str(), (long long)at));
    len -= uint64_t(n);
  }
}

}  // namespace

SharedObjects::Shmem* SharedObjects::find_shmem(const Key& key) {
  auto it = shmem_index_.find(key);
  return it == shmem_index_.end() ? nullptr : &shmem_[it->second];
}

SharedObjects::Shmem& SharedObjects::new_shmem(const Key& key, img::ShmemKind kind, const struct stat& st,
                                               UniqueFd fd) {
  Shmem s;
  s.head.set_id(uint32_t(shmem_.size() + 1));
  s.head.set_kind(kind);
  s.head.set_size(uint64_t(st.st_size));
  s.head.set_dev(st.st_dev);
  s.head.set_ino(st.st_ino);
  s.fd = std::move(fd);
  shmem_index_[key] = shmem_.size();
  shmem_.push_back(std::move(s));
  return shmem_.back();
}

img::SysvShmEntry SharedObjects::sysv_state(pid_t pid, const proc::MapsEntry& area, int shmid, int fd) const {
  auto fail = [&](const std::string& why) { return mem::area_error(area, pid, why); };
  struct stat ours, theirs;
  if (stat("/proc/self/ns/ipc", &ours) < 0 || stat(proc::path(pid, "ns/ipc").c_str(), &theirs) < 0)
    throw fail(std::string("cannot tell its IPC namespace: ") + strerror(errno));
  if (ours.st_ino != theirs.st_ino) throw fail("its SysV segment is in another IPC namespace than ckpt's");
  if (on_hugetlbfs(fd)) throw fail("hugetlb SysV segments are not supported yet");
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) < 0)
    throw fail(format("cannot read the state of SysV segment %d: %s", shmid, strerror(errno)));
  if (area.offset != 0 || area.size() != round_up(ds.shm_segsz, page_size_))
    throw fail(format("only whole attachments of SysV segments are supported yet (segment %d has %llu bytes)", shmid,
                      (unsigned long long)ds.shm_segsz));
  img::SysvShmEntry e;
  // The key it was created with, which its name keeps: once it is marked
  // for removal the kernel reports IPC_PRIVATE.
  e.set_key(*mem::sysv_key(area.name));
  e.set_shmid(shmid);
  e.set_mode(ds.shm_perm.mode & 0777);
  e.set_uid(ds.shm_perm.uid);
  e.set_gid(ds.shm_perm.gid);
  e.set_removed(ds.shm_perm.mode & SHM_DEST);
  e.set_segsz(ds.shm_segsz);
  return e;
}

void SharedObjects::add_area(pid_t pid, const proc::MapsEntry& area, const struct stat& st, mem::Vma& vma) {
  img::VmaEntry& e = vma.entry;
  switch (vma.object) {
    case mem::SharedObject::None:
      return;
    case mem::SharedObject::Shmem: {
      Key key{kAnonKey, st.st_dev, st.st_ino};
      Shmem* s = find_shmem(key);
      if (!s) s = &new_shmem(key, img::SHMEM_ANON, st, open_area_object(pid, area));
      // Only what some area maps can be reached: save the union of them.
      uint64_t from = area.offset, to = std::min(area.offset + area.size(), round_up(s->head.size(), page_size_));
      if (from < to) mem::add_range(s->saved, mem::page_align({from, to}, page_size_));
      e.set_shmem_id(s->head.id());
      break;
    }
    case mem::SharedObject::Memfd: {
      Key key{kMemfdKey, st.st_dev, st.st_ino};
      Shmem* s = find_shmem(key);
      if (!s) {
        UniqueFd fd = open_area_object(pid, area);
        if (on_hugetlbfs(fd.get())) throw mem::area_error(area, pid, "hugetlb memfds are not supported yet");
        s = &new_shmem(key, img::SHMEM_MEMFD, st, std::move(fd));
        s->head.set_memfd_name(*mem::memfd_name(area.name));
        s->head.set_seals(memfd_seals(s->fd.get()));
        s->head.set_mode(st.st_mode & 07777);
        mem::add_range(s->saved, {0, round_up(uint64_t(st.st_size), page_size_)});
      }
      e.set_shmem_id(s->head.id());
      break;
    }
    case mem::SharedObject::Sysv: {
      int shmid = int(st.st_ino);
      Key key{kSysvKey, 0, st.st_ino};
      Shmem* s = find_shmem(key);
      if (!s) {
        UniqueFd fd = open_area_object(pid, area);
        img::SysvShmEntry sysv = sysv_state(pid, area, shmid, fd.get());
        s = &new_shmem(key, img::SHMEM_SYSV, st, std::move(fd));
        s->head.set_size(sysv.segsz());
        *s->head.mutable_sysv() = sysv;
        mem::add_range(s->saved, {0, round_up(sysv.segsz(), page_size_)});
      }
      e.set_shmem_id(s->head.id());
      break;
    }
    case mem::SharedObject::Ghost: {
      auto it = ghost_index_.find({st.st_dev, st.st_ino});
      if (it != ghost_index_.end()) {
        e.set_ghost_id(ghosts_[it->second].head.id());
        break;
      }
      std::string why = ghost_refusal(area.name, st);
      if (!why.empty()) throw mem::area_error(area, pid, "its file " + why);
      UniqueFd object = open_area_object(pid, area);
      try {
        e.set_ghost_id(add_ghost(pid, area.name, st, std::move(object)));
      } catch (const Error& err) {
        throw mem::area_error(area, pid, err.what());
      }
      break;
    }
  }
}

uint32_t SharedObjects::memfd(const files::OpenFd& fd) {
  Key key{kMemfdKey, fd.st.st_dev, fd.st.st_ino};
  if (Shmem* s = find_shmem(key)) return s->head.id();
  // Our own description for reading: the stolen one may be write-only.
  UniqueFd ours = files::reopen_fd(fd.file.get(), O_RDONLY, "the memfd");
  if (on_hugetlbfs(ours.get())) throw Error("hugetlb memfds are not supported yet");
  Shmem& s = new_shmem(key, img::SHMEM_MEMFD, fd.st, std::move(ours));
  std::string name = fd.link.substr(0, fd.link.size() - std::string(" (deleted)").size());
  s.head.set_memfd_name(*mem::memfd_name(name));
  s.head.set_seals(memfd_seals(fd.file.get()));
  s.head.set_mode(fd.st.st_mode & 07777);
  mem::add_range(s.saved, {0, round_up(uint64_t(fd.st.st_size), page_size_)});
  return s.head.id();
}

std::string SharedObjects::ghost_refusal(const std::string& path, const struct stat& st) const {
  return dump::ghost_refusal(path, st, ghost_limit_, link_remap_);
}

bool by_link_remap(const struct stat& st, bool link_remap) {
  return link_remap && S_ISREG(st.st_mode) && st.st_nlink > 0;
}

std::string ghost_refusal(const std::string& path, const struct stat& st, uint64_t ghost_limit_, bool link_remap) {
  // A copy would part the fd from the file's other names: only a link of
  // the inode itself keeps them one file.
  if (by_link_remap(st, link_remap)) return "";
  if (S_ISREG(st.st_mode) && st.st_nlink > 0)
    return format("%s was deleted but still has %llu other link%s: use --link-remap", path.c_str(),
                  (unsigned long long)st.st_nlink, st.st_nlink == 1 ? "" : "s");
  if (st.st_nlink > 0)
    return format("%s was deleted but the file still has %llu other name(s); that is not supported yet", path.c_str(),
                  (unsigned long long)st.st_nlink);
  if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > ghost_limit_)
    return format("%s was deleted and is %lld bytes, more than the ghost file limit of %llu bytes "
                  "(dump --ghost-limit)",
                  path.c_str(), (long long)st.st_size, (unsigned long long)ghost_limit_);
  return "";
}

namespace {

// A deleted directory's ancestors that were deleted too (an rmdir'ed tree),
// the parent first, found through ".." (which a deleted directory still
// has) up to the first one with a link left.
void add_deleted_parents(img::GhostHead& head, int dir) {
  UniqueFd at(fcntl(dir, F_DUPFD_CLOEXEC, 0));
  size_t depth = size_t(std::count(head.path().begin(), head.path().end(), '/'));
  for (size_t i = 1; at && i < depth; i++) {
    UniqueFd parent(openat(at.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    if (!parent || fstat(parent.get(), &st) < 0)
      throw sys_error("cannot read the parent of the deleted directory " + head.path());
    if (st.st_nlink > 0) return;
    img::GhostDirParent* p = head.add_deleted_parents();
    p->set_mode(st.st_mode);
    p->set_uid(st.st_uid);
    p->set_gid(st.st_gid);
    p->set_dev(st.st_dev);
    p->set_ino(st.st_ino);
    at = std::move(parent);
  }
}

}  // namespace

SharedObjects::Ghost& SharedObjects::new_ghost(pid_t user, const std::string& path, const struct stat& st,
                                               UniqueFd fd) {
  Ghost g;
  g.user = user;
  g.head.set_id(uint32_t(ghosts_.size() + 1));
  g.head.set_path(path);
  g.head.set_mode(st.st_mode);
  g.head.set_uid(st.st_uid);
  g.head.set_gid(st.st_gid);
  g.head.set_size(uint64_t(st.st_size));
  g.head.set_mtime_ns(mtime_ns(st));
  g.head.set_dev(st.st_dev);
  g.head.set_ino(st.st_ino);
  if (S_ISDIR(st.st_mode)) add_deleted_parents(g.head, fd.get());
  g.fd = std::move(fd);
  ghost_index_[{st.st_dev, st.st_ino}] = ghosts_.size();
  ghosts_.push_back(std::move(g));
  return ghosts_.back();
}

uint32_t SharedObjects::ghost(const files::OpenFd& fd) {
  auto it = ghost_index_.find({fd.st.st_dev, fd.st.st_ino});
  if (it != ghost_index_.end()) return ghosts_[it->second].head.id();
  std::string path = fd.link.substr(0, fd.link.size() - std::string(" (deleted)").size());
  std::string why = ghost_refusal(path, fd.st);
  if (!why.empty()) throw Error(why);
  return add_ghost(fd.pid, path, fd.st, files::reopen_fd(fd.file.get(), O_RDONLY, "the deleted file " + path));
}

uint32_t SharedObjects::add_ghost(pid_t user, const std::string& path, const struct stat& st, UniqueFd fd) {
  Ghost& g = new_ghost(user, path, st, std::move(fd));
  if (by_link_remap(st, link_remap_)) g.head.set_link_remap(links_.link(g.fd.get(), path, link_tag_, g.head.id()));
  return g.head.id();
}

uint32_t SharedObjects::ghost_dir(pid_t pid, const char* link, const std::string& shown) {
  std::string path = shown.substr(0, shown.size() - std::string(" (deleted)").size());
  std::string proc_link = proc::path(pid, link);
  UniqueFd fd(::open(proc_link.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) < 0) throw sys_error("cannot open " + proc_link);
  if (path.empty() || path[0] != '/') throw Error("its deleted directory has no path (" + shown + ")");
  auto it = ghost_index_.find({st.st_dev, st.st_ino});
  if (it != ghost_index_.end()) return ghosts_[it->second].head.id();
  std::string why = ghost_refusal(path, st);
  if (!why.empty()) throw Error(why);
  return new_ghost(pid, path, st, std::move(fd)).head.id();
}

void SharedObjects::check_ghost_dirs() const {
  std::set<std::string> deleted_dirs;
  for (const Ghost& g : ghosts_)
    if (S_ISDIR(g.head.mode()))
      for (const std::string& p : mem::deleted_dir_paths(g.head.path(), g.head.deleted_parents_size()))
        deleted_dirs.insert(p);
  for (const Ghost& g : ghosts_) {
    if (S_ISDIR(g.head.mode())) continue;
    std::string dir = mem::parent_dir(g.head.path());
    struct stat st;
    if (deleted_dirs.count(dir) || (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) continue;
    throw Error(format("cannot dump the deleted file %s of pid %d: its directory %s is gone too, and is not a "
                       "working directory or root of the tree; not supported yet",
                       g.head.path().c_str(), g.user, dir.c_str()));
  }
}

void SharedObjects::write_shmem(PendingImages& images, Shmem& s) {
  const img::ShmemHead& head = s.head;
  std::string what = format("%s %u (inode %llu)", kind_name(head.kind()), head.id(), (unsigned long long)head.ino());
  std::vector<mem::PageRange> data =
      mem::file_data_ranges(s.fd.get(), 0, round_up(head.size(), page_size_), page_size_, what);
  std::vector<mem::PageRange> runs = mem::intersect(data, s.saved);
  image::ImageWriter& w = images.open(image::Kind::Shmem, head.id());
  img::ShmemRecord rec;
  *rec.mutable_head() = head;
  w.write(rec);
  uint64_t offset = 0;
  image::PagesWriter* pages = runs.empty() ? nullptr : &images.open_raw(image::Kind::ShmemPages, head.id());
  for (const mem::PageRange& r : runs) {
    // nr_pages is 32 bits: cut very long runs.
    constexpr uint64_t kMaxRunPages = 1u << 30;
    for (uint64_t at = r.start; at < r.end;) {
      uint64_t len = std::min(r.end - at, kMaxRunPages * page_size_);
      // The last page may pass the end of the object: zeros there.
      uint64_t in_file = at < head.size() ? std::min(len, head.size() - at) : 0;
      send_all(pages->fd(), s.fd.get(), at, in_file, what);
      if (in_file < len) pages->write(std::string(size_t(len - in_file), '\0').data(), size_t(len - in_file));
      img::ShmemRecord run;
      run.mutable_run()->set_pgoff(at);
      run.mutable_run()->set_nr_pages(uint32_t(len / page_size_));
      run.mutable_run()->set_offset(offset);
      w.write(run);
      offset += len;
      at += len;
    }
  }
  LOG_INFO("%s: %llu bytes, %llu of them saved in %zu runs", what.c_str(), (unsigned long long)head.size(),
           (unsigned long long)offset, runs.size());
}

void SharedObjects::write_ghost(PendingImages& images, Ghost& g) {
  const img::GhostHead& head = g.head;
  std::string what = "the deleted file " + head.path();
  image::ImageWriter& w = images.open(image::Kind::Ghost, head.id());
  img::GhostRecord rec;
  *rec.mutable_head() = head;
  w.write(rec);
  if (S_ISDIR(head.mode())) {
    LOG_INFO("the deleted directory %s (ghost %u, %d deleted parents)", head.path().c_str(), head.id(),
             head.deleted_parents_size());
    return;
  }
  if (head.has_link_remap()) {
    LOG_INFO("%s: linked back as %s, not copied (ghost %u, --link-remap)", what.c_str(), head.link_remap().c_str(),
             head.id());
    return;
  }
  uint64_t saved = 0;
  std::string buffer;
  for (const mem::PageRange& r : mem::file_data_ranges(g.fd.get(), 0, head.size(), page_size_, what)) {
    for (uint64_t at = r.start, end = std::min(r.end, head.size()); at < end;) {
      buffer.resize(size_t(std::min<uint64_t>(end - at, kGhostChunk)));
      ssize_t n = pread(g.fd.get(), buffer.data(), buffer.size(), off_t(at));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw sys_error("cannot read " + what);
      if (n == 0) throw Error(format("cannot read %s: it ends at %llu", what.c_str(), (unsigned long long)at));
      buffer.resize(size_t(n));
      img::GhostRecord chunk;
      chunk.mutable_chunk()->set_offset(at);
      chunk.mutable_chunk()->set_data(buffer);
      w.write(chunk);
      at += uint64_t(n);
      saved += uint64_t(n);
    }
  }
  LOG_INFO("%s: %llu bytes, %llu of them saved (ghost %u)", what.c_str(), (unsigned long long)head.size(),
           (unsigned long long)saved, head.id());
}

void SharedObjects::write_images(PendingImages& images) {
  for (Shmem& s : shmem_) write_shmem(images, s);
  for (Ghost& g : ghosts_) write_ghost(images, g);
}

}  // namespace ckpt::dump
