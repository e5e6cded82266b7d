#include "restore/helper_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/identity.h"
#include "proc/read.h"
#include "proc/status.h"
#include "restore/shared_memory.h"

namespace ckpt::restore {

namespace {

std::string range_name(const img::VmaEntry& v) {
  return format("0x%llx-0x%llx", (unsigned long long)v.start(), (unsigned long long)v.end());
}

// Opens `id.path` (under `root`) and checks it is the dumped file; `what`
// names its use.
UniqueFd open_same_file(const img::FileIdentity& id, const files::FsRoot& root, int flags, int pid,
                        const std::string& what) {
  std::string path = root.host(id.path());
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) throw sys_error(format("cannot restore pid %d: cannot open %s %s", pid, what.c_str(), path.c_str()));
  struct stat st;
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat " + path);
  std::string why = files::identity_mismatch(id, st);
  if (why.empty() && uint64_t(st.st_size) != id.size())
    why = format("its size changed from %llu to %lld bytes", (unsigned long long)id.size(), (long long)st.st_size);
  int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (why.empty() && id.mtime_ns() && mtime != id.mtime_ns()) why = "it was modified since the dump";
  if (!why.empty())
    throw Error(format("cannot restore pid %d: %s %s: %s", pid, what.c_str(), path.c_str(), why.c_str()));
  return fd;
}

bool shared_writable(const img::VmaEntry& v) {
  return v.kind() == img::VMA_FILE_SHARED && (v.prot() & PROT_WRITE);
}

// The share of a file's pages in the page cache (cachestat(2), Linux 6.5),
// or -1 where the kernel cannot tell.
double cached_fraction(int fd, uint64_t size) {
  struct {
    uint64_t off, len;
  } range{0, size};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } cs{};
  constexpr long kSysCachestat = 451;
  if (size == 0 || syscall(kSysCachestat, fd, &range, &cs, 0) < 0) return -1;
  return double(cs.nr_cache) * double(sysconf(_SC_PAGESIZE)) / double(size);
}

// The bytes of each pages image the runs of `p` read, by pages id: its
// own, and those of other processes its pages were shared with since fork.
std::map<uint32_t, uint64_t> pages_needed(const ProcessImage& p) {
  std::map<uint32_t, uint64_t> need;
  for (const auto& r : p.runs) need[r.pages_id] = std::max(need[r.pages_id], r.offset + r.len);
  return need;
}

// A pages image for the blob's reads, checked to hold `need` bytes.  Mostly
// in the page cache (a dump just taken): copy from there.  Mostly on disk:
// O_DIRECT, so the blob's AIO reads go to the device in parallel and the
// image does not push the restored memory out of RAM.
image::PagesFile open_pages_image(const image::ImageDir& dir, uint32_t id, uint64_t need, int pid,
                                  const Tuning& tuning) {
  image::PagesFile pages = image::open_pages(dir, id, /*direct=*/false);
  double cached = cached_fraction(pages.fd.get(), pages.size);
  if (tuning.direct) cached = *tuning.direct ? 0 : 1;
  if (cached >= 0 && cached < 0.5) pages = image::open_pages(dir, id, /*direct=*/true);
  LOG_DEBUG("pages image %s: %.0f%% in the page cache, read %s", dir.path_of(image::Kind::Pages, id).c_str(),
            cached * 100, pages.direct ? "with O_DIRECT" : "buffered");
  if (pages.size < need)
    throw image::CorruptedImage(dir.path_of(image::Kind::Pages, id),
                                format("%llu bytes, but the pagemap of pid %d needs %llu",
                                       (unsigned long long)pages.size, pid, (unsigned long long)need));
  return pages;
}

}  // namespace

HelperFiles open_helper_files(const image::ImageDir& dir, const ProcessImage& p, const Tuning& tuning,
                              const SharedMemory* shared, const files::FsRoot& root) {
  HelperFiles h;
  int pid = p.pid();
  // The tree's shared objects: one slot per object, whatever its areas.
  std::map<int, int> slot_of_object;
  for (size_t i = 0; shared && i < p.vmas.size(); i++) {
    if (int shmid = shared->area_shmid(p.vmas[i]); shmid >= 0) h.vma_shmid[i] = shmid;
    int object = shared->area_fd(p.vmas[i]);
    if (object < 0) continue;
    auto it = slot_of_object.find(object);
    if (it == slot_of_object.end()) {
      UniqueFd dup(fcntl(object, F_DUPFD_CLOEXEC, 0));
      if (!dup) throw sys_error(format("cannot restore pid %d: cannot duplicate the fd of a shared object", pid));
      h.fds.push_back(std::move(dup));
      it = slot_of_object.emplace(object, int(h.fds.size() - 1)).first;
    }
    h.vma_slot[i] = it->second;
  }
  // One fd per file: libraries have several areas.
  std::map<std::pair<uint64_t, uint64_t>, int> slot_of_file;
  std::map<std::pair<uint64_t, uint64_t>, bool> needs_write;
  for (const img::VmaEntry& v : p.vmas)
    if (v.has_file() && !v.has_ghost_id() && (v.kind() == img::VMA_FILE_PRIVATE || v.kind() == img::VMA_FILE_SHARED))
      needs_write[{v.file().dev(), v.file().ino()}] |= shared_writable(v);
  for (size_t i = 0; i < p.vmas.size(); i++) {
    const img::VmaEntry& v = p.vmas[i];
    if (v.kind() != img::VMA_FILE_PRIVATE && v.kind() != img::VMA_FILE_SHARED) continue;
    if (h.vma_slot.count(i)) continue;  // a deleted file, restored as a ghost
    auto key = std::make_pair(v.file().dev(), v.file().ino());
    auto it = slot_of_file.find(key);
    if (it == slot_of_file.end()) {
      int flags = needs_write[key] ? O_RDWR : O_RDONLY;
      h.fds.push_back(open_same_file(v.file(), root, flags, pid, "the file mapped at " + range_name(v)));
      it = slot_of_file.emplace(key, int(h.fds.size() - 1)).first;
    }
    h.vma_slot[i] = it->second;
  }
  if (p.mm.has_exe()) {
    // The blob makes this fd the exe link (PR_SET_MM_EXE_FILE): PATH + exe.
    h.fds.push_back(open_same_file(p.mm.exe(), root, O_RDONLY, pid, "its executable"));
    h.exe_slot = int(h.fds.size() - 1);
  }
  for (const auto& [id, need] : pages_needed(p)) {
    image::PagesFile pages = open_pages_image(dir, id, need, pid, tuning);
    h.fds.push_back(std::move(pages.fd));
    if (id != p.pages_id) {
      h.other_pages[id] = {int(h.fds.size() - 1), pages.size};
      continue;
    }
    h.pages_direct = pages.direct;
    h.pages_size = pages.size;
    h.pages_slot = int(h.fds.size() - 1);
  }
  return h;
}

void check_mapped_files(const ProcessImage& p, const files::FsRoot& root, report::BlockerList& found) {
  std::set<std::pair<uint64_t, uint64_t>> seen;  // one check per file: libraries have several areas
  for (const img::VmaEntry& v : p.vmas) {
    if (v.kind() != img::VMA_FILE_PRIVATE && v.kind() != img::VMA_FILE_SHARED) continue;
    if (!v.has_file() || v.has_ghost_id() || v.has_shmem_id() || !seen.insert({v.file().dev(), v.file().ino()}).second) continue;
    found.check(p.pid(), "mapped file",
                [&] { open_same_file(v.file(), root, O_RDONLY, p.pid(), "the file mapped at " + range_name(v)); });
  }
  if (p.mm.has_exe())
    found.check(p.pid(), "executable", [&] { open_same_file(p.mm.exe(), root, O_RDONLY, p.pid(), "its executable"); });
}

void check_pid_free(int pid) {
  bool exists = kill(pid, 0) == 0 || errno == EPERM;
  std::string status_text;
  try {
    status_text = proc::read_file(proc::path(pid, "status"));
    exists = true;
  } catch (const Error&) {
  }
  if (!exists) return;
  std::string holder = format("pid %d", pid);
  if (!status_text.empty()) {
    proc::Status st = proc::parse_status(status_text, proc::path(pid, "status"));
    std::string comm;
    try {
      comm = proc::read_file(proc::path(st.tgid ? st.tgid : pid, "comm"));
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    } catch (const Error&) {
    }
    if (st.tgid && st.tgid != pid)
      holder = format("a thread of '%s' (pid %d)", comm.c_str(), st.tgid);
    else
      holder = format("'%s' (pid %d)", comm.c_str(), pid);
  }
  throw Error(format("cannot restore pid %d: the pid is taken by %s", pid, holder.c_str()));
}

}  // namespace ckpt::restore
