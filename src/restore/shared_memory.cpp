#include "restore/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/shmem.h"

namespace ckpt::restore {

namespace {

// Not in Debian 12's headers (Linux 6.3).
constexpr unsigned kMfdNoexecSeal = 0x0008u, kMfdExec = 0x0010u;
constexpr int kSealExec = 0x0020;
const char* const kShmNextId = "/proc/sys/kernel/shm_next_id";

uint64_t round_up(uint64_t v, uint64_t page) { return (v + page - 1) & ~(page - 1); }

uint64_t page_size() { return uint64_t(sysconf(_SC_PAGESIZE)); }

std::string key_name(int32_t key) { return format("0x%08x", uint32_t(key)); }

// The shmem file behind [addr, addr + len) of ckpt itself.
UniqueFd open_own_mapping(void* addr, uint64_t len, const std::string& what) {
  std::string path = format("/proc/self/map_files/%lx-%lx", (unsigned long)addr, (unsigned long)addr + len);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throw sys_error("cannot restore " + what + ": cannot open " + path);
  return fd;
}

bool shm_exists(int shmid, struct shmid_ds& ds) { return shmctl(shmid, IPC_STAT, &ds) == 0; }

void write_proc(const char* path, const std::string& value) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) throw sys_error(std::string("cannot open ") + path);
  if (write(fd.get(), value.data(), value.size()) != ssize_t(value.size()))
    throw sys_error(std::string("cannot write ") + value + " to " + path);
}

img::VmaKind area_kind_of(img::ShmemKind kind) {
  switch (kind) {
    case img::SHMEM_ANON: return img::VMA_ANON_SHARED;
    case img::SHMEM_MEMFD: return img::VMA_MEMFD;
    case img::SHMEM_SYSV: return img::VMA_SYSV_SHM;
  }
  return img::VMA_ANON_SHARED;
}

}  // namespace

SharedMemory SharedMemory::load(const image::ImageDir& dir, const TreeImage& tree, const files::FsRoot& root) {
  SharedMemory sm;
  sm.root_ = root;
  const uint64_t page = page_size();
  for (uint64_t id : dir.ids(image::Kind::Shmem)) {
    std::string name = dir.path_of(image::Kind::Shmem, id);
    image::ImageReader reader(dir, image::Kind::Shmem, id);
    img::ShmemRecord rec;
    if (!reader.read(rec) || !rec.has_head()) throw image::CorruptedImage(name, "the first record is not the head");
    Shmem s;
    s.head = rec.head();
    if (s.head.id() != id) throw image::CorruptedImage(name, format("it holds object %u", s.head.id()));
    if (s.head.kind() == img::SHMEM_SYSV && !s.head.has_sysv())
      throw image::CorruptedImage(name, "a SysV segment without its state");
    if (s.head.kind() == img::SHMEM_MEMFD && !s.head.has_memfd_name())
      throw image::CorruptedImage(name, "a memfd without its name");
    uint64_t next_offset = 0, prev_end = 0, span = round_up(s.head.size(), page);
    while (reader.read(rec)) {
      if (!rec.has_run()) throw image::CorruptedImage(name, "a second head");
      const img::ShmemRun& r = rec.run();
      uint64_t len = uint64_t(r.nr_pages()) * page;
      uint64_t offset = r.has_offset() ? r.offset() : next_offset;
      if (r.pgoff() % page || offset % page || len == 0 || r.pgoff() < prev_end || r.pgoff() + len > span)
        throw image::CorruptedImage(name, format("bad run at offset 0x%llx", (unsigned long long)r.pgoff()));
      s.runs.push_back({r.pgoff(), len, offset});
      next_offset = offset + len;
      prev_end = r.pgoff() + len;
    }
    sm.shmem_.emplace(uint32_t(id), std::move(s));
  }
  for (uint64_t id : dir.ids(image::Kind::Ghost)) {
    std::string name = dir.path_of(image::Kind::Ghost, id);
    image::ImageReader reader(dir, image::Kind::Ghost, id);
    img::GhostRecord rec;
    if (!reader.read(rec) || !rec.has_head()) throw image::CorruptedImage(name, "the first record is not the head");
    Ghost g;
    g.head = rec.head();
    if (g.head.id() != id) throw image::CorruptedImage(name, format("it holds ghost %u", g.head.id()));
    if (g.head.path().empty() || g.head.path()[0] != '/' || !(S_ISREG(g.head.mode()) || S_ISDIR(g.head.mode())))
      throw image::CorruptedImage(name, "not a regular file or directory with a path");
    uint64_t prev_end = 0;
    while (reader.read(rec)) {
      if (!rec.has_chunk()) throw image::CorruptedImage(name, "a second head");
      if (S_ISDIR(g.head.mode())) throw image::CorruptedImage(name, "a directory with content");
      const img::GhostChunk& c = rec.chunk();
      if (c.offset() < prev_end || c.offset() + c.data().size() > g.head.size())
        throw image::CorruptedImage(name, format("bad chunk at offset %llu", (unsigned long long)c.offset()));
      prev_end = c.offset() + c.data().size();
      if (g.head.has_link_remap()) throw image::CorruptedImage(name, "a file linked back by --link-remap with content");
      g.chunks.push_back(c);
    }
    if (g.head.has_link_remap() &&
        (!S_ISREG(g.head.mode()) || g.head.link_remap().empty() || g.head.link_remap()[0] != '/'))
      throw image::CorruptedImage(name, "a link of --link-remap that is not a regular file with a path");
    sm.ghosts_.emplace(uint32_t(id), std::move(g));
  }
  // A process that holds each deleted file, for messages: the first with
  // an fd on it, else (below) the first that maps it.
  for (const auto& [pid, fds] : tree.files.fds)
    for (const img::FdinfoEntry& fd : fds) {
      auto file = tree.files.files.find(fd.id());
      if (file == tree.files.files.end() || file->second.kind() != img::FILE_GHOST || !file->second.has_reg()) continue;
      auto it = sm.ghosts_.find(file->second.reg().ghost_id());
      if (it != sm.ghosts_.end() && !it->second.user) it->second.user = pid;
    }
  // Every area that names an object finds it, of the area's kind.
  for (const ProcessImage& p : tree.procs) {
    std::string mm = dir.path_of(image::Kind::Mm, uint64_t(p.pid()));
    for (const img::VmaEntry& v : p.vmas) {
      std::string at = format("area 0x%llx-0x%llx", (unsigned long long)v.start(), (unsigned long long)v.end());
      if (v.has_shmem_id()) {
        auto it = sm.shmem_.find(v.shmem_id());
        if (it == sm.shmem_.end())
          throw image::CorruptedImage(mm, format("%s maps shared memory object %u, which has no image", at.c_str(),
                                                 v.shmem_id()));
        if (area_kind_of(it->second.head.kind()) != v.kind())
          throw image::CorruptedImage(mm, format("%s of kind %s maps shared memory object %u of another kind",
                                                 at.c_str(), img::VmaKind_Name(v.kind()).c_str(), v.shmem_id()));
        if (!it->second.user) it->second.user = p.pid();
      } else if (v.kind() == img::VMA_MEMFD || v.kind() == img::VMA_SYSV_SHM) {
        throw image::CorruptedImage(mm, at + " names no shared memory object");
      }
      if (v.has_ghost_id()) {
        auto it = sm.ghosts_.find(v.ghost_id());
        if (it == sm.ghosts_.end())
          throw image::CorruptedImage(mm, format("%s maps deleted file %u, which has no image", at.c_str(),
                                                 v.ghost_id()));
        if (v.kind() != img::VMA_FILE_PRIVATE && v.kind() != img::VMA_FILE_SHARED)
          throw image::CorruptedImage(mm, at + " names a deleted file but is not a file area");
        if (!it->second.user) it->second.user = p.pid();
      }
    }
    // A deleted working directory or root names a ghost directory.
    for (auto [id, what] : {std::pair{p.fs.cwd_ghost_id(), "working directory"}, {p.fs.root_ghost_id(), "root"}}) {
      if (!p.has_fs || !id) continue;
      auto it = sm.ghosts_.find(id);
      if (it == sm.ghosts_.end() || !S_ISDIR(it->second.head.mode()))
        throw image::CorruptedImage(dir.path_of(image::Kind::Fs, uint64_t(p.pid())),
                                    format("its deleted %s names ghost %u, which is not a directory", what, id));
      if (!it->second.user) it->second.user = p.pid();
    }
  }
  return sm;
}

SharedMemory::~SharedMemory() {
  if (committed_) return;
  // A failed restore leaves no segment it made.
  for (auto& [id, s] : shmem_)
    if (s.created && s.shmid >= 0 && shmctl(s.shmid, IPC_RMID, nullptr) == 0)
      LOG_DEBUG("removed SysV segment %d after the failed restore", s.shmid);
}

std::string SharedMemory::describe(const Shmem& s) const {
  std::string who = s.user ? format(" (of pid %d)", s.user) : "";
  switch (s.head.kind()) {
    case img::SHMEM_ANON: return format("the shared anonymous memory %u%s", s.head.id(), who.c_str());
    case img::SHMEM_MEMFD:
      return format("the memfd '%s'%s", s.head.memfd_name().c_str(), who.c_str());
    case img::SHMEM_SYSV:
      return format("SysV shared memory segment %d (key %s)%s", s.head.sysv().shmid(),
                    key_name(s.head.sysv().key()).c_str(), who.c_str());
  }
  return "shared memory";
}

void SharedMemory::check_sysv(Shmem& s) const {
  const img::SysvShmEntry& sysv = s.head.sysv();
  std::string what = "cannot restore " + describe(s);
  struct shmid_ds ds;
  if (shm_exists(sysv.shmid(), ds)) {
    // Not marked for removal, it outlived the tree the dump killed: if no
    // one else has it attached, it is the tree's own and is taken back.
    bool same = !sysv.removed() && ds.shm_perm.__key == sysv.key() && ds.shm_segsz == sysv.segsz();
    if (!same)
      throw Error(format("%s: the id is taken by another segment (key %s, %llu bytes)", what.c_str(),
                         key_name(ds.shm_perm.__key).c_str(), (unsigned long long)ds.shm_segsz));
    if (ds.shm_nattch != 0)
      throw Error(format("%s: the segment exists and is attached by %llu processes", what.c_str(),
                         (unsigned long long)ds.shm_nattch));
    s.reuse = true;
    return;
  }
  if (access(kShmNextId, W_OK) != 0)
    throw sys_error(what + ": cannot choose its id through " + kShmNextId + " (needs CONFIG_CHECKPOINT_RESTORE)");
  // A segment that was marked for removal gets its key if it is free, else
  // IPC_PRIVATE (its key was already gone for shmget).
  if (sysv.key() != IPC_PRIVATE && !sysv.removed()) {
    int other = shmget(sysv.key(), 0, 0);
    if (other >= 0) throw Error(format("%s: its key is taken by segment %d", what.c_str(), other));
  }
}

void SharedMemory::check() {
  for (auto& [id, s] : shmem_)
    if (s.head.kind() == img::SHMEM_SYSV) check_sysv(s);
  for (const auto& [id, g] : ghosts_) {
    if (S_ISDIR(g.head.mode())) {
      check_ghost_dir(g);
      continue;
    }
    if (g.head.has_link_remap()) {
      check_link_remap(g);
      continue;
    }
    std::string dir = mem::parent_dir(g.head.path());
    if (is_ghost_dir(dir)) continue;  // a deleted directory too: made again first
    dir = root_.host(dir);
    struct stat st;
    if (stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
      std::string who = g.user ? format(" (of pid %d)", g.user) : "";
      throw Error(format("cannot restore the deleted file %s%s: its directory %s is gone", g.head.path().c_str(),
                         who.c_str(), dir.c_str()));
    }
  }
}

void SharedMemory::create_sysv(Shmem& s) {
  const img::SysvShmEntry& sysv = s.head.sysv();
  std::string what = "cannot restore " + describe(s);
  if (s.reuse) {
    s.shmid = sysv.shmid();
  } else {
    int key = sysv.key();
    if (key != IPC_PRIVATE && shmget(key, 0, 0) >= 0) key = IPC_PRIVATE;  // removed: its key is gone
    write_proc(kShmNextId, std::to_string(sysv.shmid()));
    int id = shmget(key, size_t(sysv.segsz()), IPC_CREAT | IPC_EXCL | int(sysv.mode() & 0777));
    if (id < 0) {
      int err = errno;
      try {
        write_proc(kShmNextId, "-1");
      } catch (const Error&) {
      }
      throw sys_error(what + ": shmget", err);
    }
    if (id != sysv.shmid()) {
      shmctl(id, IPC_RMID, nullptr);
      throw Error(format("%s: shmget gave id %d (another process created a segment meanwhile?)", what.c_str(), id));
    }
    s.shmid = id;
    s.created = true;
  }
  struct shmid_ds ds;
  if (shmctl(s.shmid, IPC_STAT, &ds) < 0) throw sys_error(what + ": IPC_STAT");
  ds.shm_perm.uid = sysv.uid();
  ds.shm_perm.gid = sysv.gid();
  ds.shm_perm.mode = sysv.mode() & 0777;
  if (shmctl(s.shmid, IPC_SET, &ds) < 0) throw sys_error(what + ": IPC_SET");
  // Its shmem file, through an attachment of ckpt's own.
  void* at = shmat(s.shmid, nullptr, 0);
  if (at == reinterpret_cast<void*>(-1)) throw sys_error(what + ": shmat in ckpt");
  try {
    s.fd = open_own_mapping(at, round_up(sysv.segsz(), page_size()), describe(s));
  } catch (...) {
    shmdt(at);
    throw;
  }
  shmdt(at);
  // A segment taken back starts as it was dumped: what the dump saw as
  // holes is zeros again.
  if (s.reuse && fallocate(s.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                           off_t(round_up(sysv.segsz(), page_size()))) < 0)
    throw sys_error(what + ": cannot clear the segment");
}

// The object's pages from shmem-pages-ID.img, never past its size.
void SharedMemory::fill(Shmem& s, const image::ImageDir& dir) {
  if (s.runs.empty()) return;
  image::PagesFile pages = image::open_raw(dir, image::Kind::ShmemPages, s.head.id(), false);
  uint64_t need = 0;
  for (const Run& r : s.runs) need = std::max(need, r.offset + r.len);
  if (pages.size < need)
    throw image::CorruptedImage(dir.path_of(image::Kind::ShmemPages, s.head.id()),
                                format("%llu bytes, but its runs need %llu", (unsigned long long)pages.size,
                                       (unsigned long long)need));
  for (const Run& r : s.runs) {
    if (r.pgoff >= s.head.size()) continue;
    uint64_t len = std::min(r.len, s.head.size() - r.pgoff);
    if (lseek(s.fd.get(), off_t(r.pgoff), SEEK_SET) < 0) throw sys_error("cannot restore " + describe(s));
    off_t from = off_t(r.offset);
    while (len > 0) {
      ssize_t n = sendfile(s.fd.get(), pages.fd.get(), &from, size_t(std::min<uint64_t>(len, 1u << 30)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw sys_error("cannot restore the pages of " + describe(s), n < 0 ? errno : EIO);
      len -= uint64_t(n);
    }
  }
}

void SharedMemory::create_ghost(Ghost& g) {
  const img::GhostHead& h = g.head;
  const std::string want = root_.host(h.path());  // where it was, under --root
  std::string path = ghost_dir_path(want);
  UniqueFd fd;
  for (int n = 1; !fd; n++) {
    fd.reset(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd) break;
    if (errno != EEXIST || n > 100) throw sys_error("cannot restore the deleted file " + h.path() + " at " + path);
    path = mem::ghost_alternative(ghost_dir_path(want), n);  // the path is taken: next to it
  }
  try {
    for (const img::GhostChunk& c : g.chunks) {
      const std::string& data = c.data();
      for (size_t done = 0; done < data.size();) {
        ssize_t n = pwrite(fd.get(), data.data() + done, data.size() - done, off_t(c.offset() + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw sys_error("cannot write the deleted file " + path);
        done += size_t(n);
      }
    }
    if (ftruncate(fd.get(), off_t(h.size())) < 0) throw sys_error("cannot size the deleted file " + path);
    if (fchown(fd.get(), h.uid(), h.gid()) < 0)
      LOG_WARN("the deleted file %s cannot be given its owner %u:%u: %s", path.c_str(), h.uid(), h.gid(),
               strerror(errno));
    if (fchmod(fd.get(), h.mode() & 07777) < 0) throw sys_error("cannot set the mode of the deleted file " + path);
    if (h.has_mtime_ns()) {
      struct timespec times[2] = {{0, UTIME_OMIT}, {time_t(h.mtime_ns() / 1000000000), long(h.mtime_ns() % 1000000000)}};
      futimens(fd.get(), times);
    }
  } catch (...) {
    unlink(path.c_str());
    throw;
  }
  // ckpt holds it, and every task opens it through ckpt's fd: the name can
  // go now (a restore that fails later leaves nothing behind).
  if (unlink(path.c_str()) < 0) throw sys_error("cannot remove the deleted file " + path + " again");
  if (path != want) LOG_WARN("the deleted file %s was restored as %s: its path is taken", want.c_str(), path.c_str());
  LOG_INFO("deleted file %s restored (ghost %u, %llu bytes)", path.c_str(), h.id(), (unsigned long long)h.size());
  g.fd = std::move(fd);
  g.chunks.clear();
  g.chunks.shrink_to_fit();
}

void SharedMemory::create(const image::ImageDir& dir) {
  for (auto& [id, s] : shmem_) {
    const img::ShmemHead& h = s.head;
    switch (h.kind()) {
      case img::SHMEM_ANON: {
        uint64_t len = round_up(h.size(), page_size());
        if (len == 0) throw image::CorruptedImage(dir.path_of(image::Kind::Shmem, id), "an object of size 0");
        void* at = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (at == MAP_FAILED) throw sys_error("cannot restore " + describe(s) + ": mmap");
        try {
          s.fd = open_own_mapping(at, len, describe(s));
        } catch (...) {
          munmap(at, len);
          throw;
        }
        munmap(at, len);
        fill(s, dir);
        break;
      }
      case img::SHMEM_MEMFD: {
        bool noexec = (h.seals() & kSealExec) && !(h.mode() & 0111);
        unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (noexec ? kMfdNoexecSeal : kMfdExec);
        int fd = memfd_create(h.memfd_name().c_str(), flags);
        if (fd < 0 && errno == EINVAL) fd = memfd_create(h.memfd_name().c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) throw sys_error("cannot restore " + describe(s) + ": memfd_create");
        s.fd.reset(fd);
        if (ftruncate(fd, off_t(h.size())) < 0) throw sys_error("cannot restore " + describe(s) + ": ftruncate");
        fill(s, dir);
        if (h.has_mode() && fchmod(fd, h.mode() & 07777) < 0)
          throw sys_error("cannot restore " + describe(s) + ": fchmod");
        // Seals last: F_SEAL_WRITE would refuse the content.
        if (h.seals() && fcntl(fd, F_ADD_SEALS, int(h.seals())) < 0)
          throw sys_error(format("cannot restore %s: F_ADD_SEALS 0x%x", describe(s).c_str(), h.seals()));
        break;
      }
      case img::SHMEM_SYSV:
        create_sysv(s);
        fill(s, dir);
        break;
    }
    fds_.shmem[id] = s.fd.get();
    LOG_INFO("restored %s%s: %llu bytes, %zu runs of pages", describe(s).c_str(),
             s.reuse ? " (the dumped segment, still there, taken back)" : "", (unsigned long long)h.size(),
             s.runs.size());
  }
  // Deleted files in a deleted directory are made while it exists again.
  create_ghost_dirs([&] {
    for (auto& [id, g] : ghosts_)
      if (g.head.has_link_remap())
        relink(g);
      else if (!S_ISDIR(g.head.mode()))
        create_ghost(g);
  });
  for (auto& [id, g] : ghosts_) fds_.ghost[id] = g.fd.get();
}

int SharedMemory::area_fd(const img::VmaEntry& v) const {
  if (v.has_ghost_id()) {
    auto it = ghosts_.find(v.ghost_id());
    return it == ghosts_.end() ? -1 : it->second.fd.get();
  }
  if (v.has_shmem_id() && v.kind() != img::VMA_SYSV_SHM) {
    auto it = shmem_.find(v.shmem_id());
    return it == shmem_.end() ? -1 : it->second.fd.get();
  }
  return -1;
}

int SharedMemory::area_shmid(const img::VmaEntry& v) const {
  if (v.kind() != img::VMA_SYSV_SHM || !v.has_shmem_id()) return -1;
  auto it = shmem_.find(v.shmem_id());
  return it == shmem_.end() ? -1 : it->second.shmid;
}

void SharedMemory::commit() {
  for (auto& [id, s] : shmem_) {
    if (s.head.kind() != img::SHMEM_SYSV || !s.head.sysv().removed()) continue;
    if (shmctl(s.shmid, IPC_RMID, nullptr) < 0) throw sys_error("cannot mark " + describe(s) + " for removal again");
    LOG_INFO("%s marked for removal again", describe(s).c_str());
  }
  committed_ = true;
  remove_link_remaps();
}

}  // namespace ckpt::restore
