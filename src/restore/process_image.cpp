#include "restore/process_image.h"

#include <linux/filter.h>
#include <signal.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "ckpt/error.h"

namespace ckpt::restore {

namespace {

// Every image the pstree implies for a live process is there; the message
// names the one that is not, before anything is created.
void require(const image::ImageDir& dir, image::Kind kind, uint64_t id, uint32_t pid) {
  if (!dir.regular_size(kind, id))
    throw Error(format("images in %s are incomplete: pid %u has no %s", dir.path().c_str(), pid,
                       dir.path_of(kind, id).c_str()));
}

void read_inventory(const image::ImageDir& dir, ProcessImage& p) {
  if (!dir.exists(image::Kind::Inventory))
    throw Error("images in " + dir.path() + " are incomplete: no inventory.img (the dump did not finish)");
  image::ImageReader(dir, image::Kind::Inventory).read_only(p.inventory);
  const img::InventoryEntry& inv = p.inventory;
  if (inv.img_version() != image::kFormatVersion)
    throw Error(format("images in %s have format version %u; this ckpt restores version %u", dir.path().c_str(),
                       inv.img_version(), image::kFormatVersion));
  if (inv.arch() != "x86_64")
    throw Error("images in " + dir.path() + " are of a " + inv.arch() + " process; this ckpt restores x86_64");
  long page = sysconf(_SC_PAGESIZE);
  if (inv.page_size() != uint32_t(page))
    throw Error(format("images in %s use %u-byte pages; this machine has %ld-byte pages", dir.path().c_str(),
                       inv.page_size(), page));
}

std::vector<img::PstreeEntry> read_pstree(const image::ImageDir& dir, const img::InventoryEntry& inv) {
  image::ImageReader reader(dir, image::Kind::Pstree);
  std::vector<img::PstreeEntry> entries;
  img::PstreeEntry e;
  while (reader.read(e)) entries.push_back(e);
  if (entries.empty()) throw image::CorruptedImage(dir.path_of(image::Kind::Pstree), "no process");
  // Pid 1 is a PID namespace's init: only in a namespace of its own could it
  // get that pid back, and the dump refuses trees in other namespaces, but
  // a dump made inside a namespace (of its init) or an edited set can hold
  // it.  Making that namespace is the namespaces issue's work.
  for (const img::PstreeEntry& entry : entries)
    if (entry.pid() == 1)
      throw Error("cannot restore pid 1 from " + dir.path() +
                  ": it is the init of a PID namespace, which ckpt cannot restore without that namespace (PID "
                  "namespaces are not supported yet)");
  if (entries.front().pid() != inv.root_pid())
    throw image::CorruptedImage(dir.path_of(image::Kind::Pstree),
                                format("the root pid %u of the inventory is not its first process", inv.root_pid()));
  return entries;
}

// What restore can install again: mode 0 or 2, each filter a whole number
// of instructions within the kernel's limit, with flags the blob may pass.
void check_seccomp(const std::string& name, const img::ThreadCoreEntry& t) {
  uint32_t mode = t.seccomp_mode();
  if (mode != 0 && mode != SECCOMP_MODE_FILTER)
    throw image::CorruptedImage(name, format("thread %u has seccomp mode %u (only filters, mode 2, are restored)",
                                             t.tid(), mode));
  if (mode == 0 && t.seccomp_filters_size() != 0)
    throw image::CorruptedImage(name, format("thread %u has seccomp filters but no seccomp mode", t.tid()));
  if (mode == SECCOMP_MODE_FILTER && (t.seccomp_filters_size() == 0 || t.exited()))
    throw image::CorruptedImage(name, format("thread %u has seccomp mode 2 but %s", t.tid(),
                                             t.exited() ? "had exited" : "no filters"));
  for (int i = 0; i < t.seccomp_filters_size(); i++) {
    const img::SeccompFilterEntry& f = t.seccomp_filters(i);
    size_t n = f.insns().size() / sizeof(sock_filter);
    if (f.insns().size() % sizeof(sock_filter) || n == 0 || n > BPF_MAXINSNS)
      throw image::CorruptedImage(name, format("seccomp filter %d of thread %u is %zu bytes, not 1 to %d instructions",
                                               i, t.tid(), f.insns().size(), BPF_MAXINSNS));
    if (f.flags() & ~uint32_t(SECCOMP_FILTER_FLAG_LOG))
      throw image::CorruptedImage(name, format("seccomp filter %d of thread %u has flags 0x%x (only LOG is restored)", i,
                                               t.tid(), f.flags()));
  }
}

void read_core(const image::ImageDir& dir, ProcessImage& p) {
  require(dir, image::Kind::Core, p.pstree.pid(), p.pstree.pid());
  image::ImageReader(dir, image::Kind::Core, p.pstree.pid()).read_only(p.core);
  if (!p.core.has_process())
    throw image::CorruptedImage(dir.path_of(image::Kind::Core, p.pstree.pid()), "no process state in the main thread's core");
  const img::ProcessCoreEntry& pc = p.core.process();
  if (pc.has_task_state() && pc.task_state() == 1)
    throw image::CorruptedImage(dir.path_of(image::Kind::Core, p.pstree.pid()),
                                "a zombie with a core image (zombies are marked in pstree.img)");
  if (pc.has_task_state() && pc.task_state() == 2 && pc.has_stop_signal() && pc.stop_signal() != SIGSTOP &&
      pc.stop_signal() != SIGTSTP && pc.stop_signal() != SIGTTIN && pc.stop_signal() != SIGTTOU)
    throw image::CorruptedImage(dir.path_of(image::Kind::Core, p.pstree.pid()),
                                format("stopped by signal %u, which is no stop signal", pc.stop_signal()));
  if (p.core.thread().tid() != p.pstree.pid())
    throw image::CorruptedImage(dir.path_of(image::Kind::Core, p.pstree.pid()),
                                format("the main thread's core is of thread %u", p.core.thread().tid()));
  check_seccomp(dir.path_of(image::Kind::Core, p.pstree.pid()), p.core.thread());
  p.threads.push_back(p.core.thread());
}

// The other threads, in pstree order; the main thread is the process's pid.
void read_thread_cores(const image::ImageDir& dir, ProcessImage& p) {
  std::vector<uint32_t> seen{p.pstree.pid()};
  for (uint32_t tid : p.pstree.threads()) {
    if (tid == p.pstree.pid()) continue;
    if (std::find(seen.begin(), seen.end(), tid) != seen.end())
      throw image::CorruptedImage(dir.path_of(image::Kind::Pstree), format("thread %u of pid %u is listed twice", tid,
                                                                           p.pstree.pid()));
    seen.push_back(tid);
    std::string name = dir.path_of(image::Kind::Core, tid);
    if (!dir.exists(image::Kind::Core, tid))
      throw Error(format("images in %s are incomplete: thread %u of pid %u has no %s", dir.path().c_str(), tid,
                         p.pstree.pid(), name.c_str()));
    img::CoreEntry core;
    image::ImageReader(dir, image::Kind::Core, tid).read_only(core);
    if (core.thread().tid() != tid || core.has_process())
      throw image::CorruptedImage(name, format("not the core of thread %u alone", tid));
    check_seccomp(name, core.thread());
    p.threads.push_back(core.thread());
  }
}

// Guard pages lie inside their area, in order, in an area the blob maps.
void check_guards(const img::VmaEntry& v, const std::string& name) {
  uint64_t prev_end = v.start();
  for (const img::PageSpan& g : v.guards()) {
    if (g.start() >= g.end() || g.start() % 4096 || g.end() % 4096 || g.start() < prev_end || g.end() > v.end() ||
        v.kind() == img::VMA_VDSO || v.kind() == img::VMA_VVAR || v.kind() == img::VMA_VVAR_VCLOCK ||
        v.kind() == img::VMA_VSYSCALL)
      throw image::CorruptedImage(name, format("bad guard pages 0x%llx-0x%llx in the area at 0x%llx",
                                               (unsigned long long)g.start(), (unsigned long long)g.end(),
                                               (unsigned long long)v.start()));
    prev_end = g.end();
  }
}

void read_mm(const image::ImageDir& dir, ProcessImage& p) {
  std::string name = dir.path_of(image::Kind::Mm, p.pstree.pid());
  require(dir, image::Kind::Mm, p.pstree.pid(), p.pstree.pid());
  image::ImageReader reader(dir, image::Kind::Mm, p.pstree.pid());
  img::VmaRecord rec;
  if (!reader.read(rec) || !rec.has_mm()) throw image::CorruptedImage(name, "the first record is not the mm");
  p.mm = rec.mm();
  while (reader.read(rec)) {
    if (!rec.has_vma()) throw image::CorruptedImage(name, "a second mm record");
    const img::VmaEntry& v = rec.vma();
    if (v.start() >= v.end() || v.start() % 4096 || v.end() % 4096)
      throw image::CorruptedImage(name, format("bad area 0x%llx-0x%llx", (unsigned long long)v.start(),
                                               (unsigned long long)v.end()));
    if ((v.kind() == img::VMA_FILE_PRIVATE || v.kind() == img::VMA_FILE_SHARED) && !v.has_file())
      throw image::CorruptedImage(name, format("file area 0x%llx-0x%llx names no file", (unsigned long long)v.start(),
                                               (unsigned long long)v.end()));
    check_guards(v, name);
    p.vmas.push_back(v);
  }
  std::sort(p.vmas.begin(), p.vmas.end(), [](const auto& a, const auto& b) { return a.start() < b.start(); });
  for (size_t i = 1; i < p.vmas.size(); i++)
    if (p.vmas[i].start() < p.vmas[i - 1].end())
      throw image::CorruptedImage(name, format("areas overlap at 0x%llx", (unsigned long long)p.vmas[i].start()));
}

// Pages may only go where the blob maps writable memory of the process: not
// into the vDSO, not into a shared file or shared object (its pages are the
// file's or the object's, restored once for the tree).  Shared anonymous
// memory of older images, without an object, had its pages here.
bool takes_pages(const img::VmaEntry& v) {
  switch (v.kind()) {
    case img::VMA_ANON_PRIVATE:
    case img::VMA_FILE_PRIVATE: return true;
    case img::VMA_ANON_SHARED: return !v.has_shmem_id();
    case img::VMA_MEMFD: return !(v.flags() & MAP_SHARED);
    default: return false;
  }
}

// Whether [start, end) touches a guard range of the area.  Runs and guards
// are both in address order: `gi` is where the last call stopped, for the
// same area (so the check is linear, even for an area of a million guards).
bool touches_guard(const img::VmaEntry& v, size_t& gi, uint64_t start, uint64_t end) {
  while (gi < size_t(v.guards_size()) && v.guards(int(gi)).end() <= start) gi++;
  return gi < size_t(v.guards_size()) && v.guards(int(gi)).start() < end;
}

void check_runs_inside(const ProcessImage& p, const std::string& name) {
  size_t vi = 0, gi = 0;
  for (const ProcessImage::Run& r : p.runs) {
    uint64_t at = r.vaddr, end = r.vaddr + r.len;
    while (at < end) {
      while (vi < p.vmas.size() && p.vmas[vi].end() <= at) vi++, gi = 0;
      if (vi == p.vmas.size() || p.vmas[vi].start() > at || !takes_pages(p.vmas[vi]))
        throw image::CorruptedImage(name, format("pages at 0x%llx lie outside the process's private or anonymous "
                                                 "memory", (unsigned long long)at));
      if (touches_guard(p.vmas[vi], gi, at, std::min(end, p.vmas[vi].end())))
        throw image::CorruptedImage(name, format("pages at 0x%llx lie on guard pages", (unsigned long long)at));
      at = std::min(end, p.vmas[vi].end());
    }
  }
}

// A run of the process's own pages image, or (a shared_run, or a run with
// in_pages_id) one of another process's, whose offset must be given.
const img::PagemapEntry& pagemap_run(const img::PagemapRecord& rec, const std::string& name) {
  if (!rec.has_run() && !rec.has_shared_run()) throw image::CorruptedImage(name, "a second head");
  const img::PagemapEntry& e = rec.has_run() ? rec.run() : rec.shared_run();
  if (rec.has_shared_run() && !e.has_in_pages_id())
    throw image::CorruptedImage(name, format("the shared run at 0x%llx names no pages image",
                                             (unsigned long long)e.vaddr()));
  if (e.has_in_pages_id() && !e.has_offset())
    throw image::CorruptedImage(name, format("the run at 0x%llx in pages-%u.img has no offset",
                                             (unsigned long long)e.vaddr(), e.in_pages_id()));
  return e;
}

void read_pagemap(const image::ImageDir& dir, ProcessImage& p) {
  require(dir, image::Kind::Pagemap, p.pstree.pid(), p.pstree.pid());
  std::string name = dir.path_of(image::Kind::Pagemap, p.pstree.pid());
  image::ImageReader reader(dir, image::Kind::Pagemap, p.pstree.pid());
  img::PagemapRecord rec;
  if (!reader.read(rec) || !rec.has_head()) throw image::CorruptedImage(name, "the first record is not the head");
  p.pages_id = rec.head().pages_id();
  uint64_t next_offset = 0, prev_end = 0;
  const uint64_t page = 4096;
  while (reader.read(rec)) {
    const img::PagemapEntry& e = pagemap_run(rec, name);
    uint64_t len = uint64_t(e.nr_pages()) * page;
    uint32_t pages_id = e.has_in_pages_id() ? e.in_pages_id() : p.pages_id;
    uint64_t offset = e.has_offset() ? e.offset() : next_offset;
    // Offsets and addresses beyond any file or address space would wrap
    // the sums made of them.
    if (e.vaddr() % page || offset % page || len == 0 || offset >= (1ull << 56) || e.vaddr() >= (1ull << 57))
      throw image::CorruptedImage(name, format("bad run at 0x%llx", (unsigned long long)e.vaddr()));
    if (e.vaddr() < prev_end)
      throw image::CorruptedImage(name, format("runs out of order at 0x%llx", (unsigned long long)e.vaddr()));
    p.runs.push_back({e.vaddr(), len, offset, pages_id});
    // Offsets left out follow the runs of the own pages image.
    if (pages_id == p.pages_id) next_offset = offset + len;
    prev_end = e.vaddr() + len;
  }
  p.has_pages = !p.runs.empty();
  check_runs_inside(p, name);
}

void read_fs_and_fds(const image::ImageDir& dir, ProcessImage& p) {
  require(dir, image::Kind::Fs, p.pstree.pid(), p.pstree.pid());
  image::ImageReader(dir, image::Kind::Fs, p.pstree.pid()).read_only(p.fs);
  p.has_fs = true;
  require(dir, image::Kind::Fdinfo, p.pstree.pid(), p.pstree.pid());
}

// The bytes of each live process's own pages image its runs use, by
// pages id.
std::map<uint32_t, uint64_t> own_pages_extents(const TreeImage& tree) {
  std::map<uint32_t, uint64_t> extent;
  for (const ProcessImage& p : tree.procs) {
    if (p.zombie) continue;
    uint64_t& end = extent[p.pages_id];
    for (const ProcessImage::Run& r : p.runs)
      if (p.own(r)) end = std::max(end, r.offset + r.len);
  }
  return extent;
}

// Each live process's own pages image holds exactly the bytes its runs put
// there: none missing (a truncated image), none more (a sparse giant, a
// file of another dump).  An image with no run may be absent.
void check_pages_images(const image::ImageDir& dir, const TreeImage& tree) {
  std::map<uint32_t, uint64_t> extent = own_pages_extents(tree);
  for (const ProcessImage& p : tree.procs) {
    if (p.zombie) continue;
    uint64_t want = extent[p.pages_id];
    std::optional<uint64_t> size = dir.regular_size(image::Kind::Pages, p.pages_id);
    std::string name = dir.path_of(image::Kind::Pages, p.pages_id);
    if (!size && want == 0) continue;
    if (!size)
      throw Error(format("images in %s are incomplete: pid %d has no %s, where its pagemap puts %llu bytes",
                         dir.path().c_str(), p.pid(), name.c_str(), (unsigned long long)want));
    if (*size != want)
      throw image::CorruptedImage(name, format("%llu bytes, but the pagemap of pid %d puts %llu bytes there",
                                               (unsigned long long)*size, p.pid(), (unsigned long long)want));
  }
}

// The images of the tree's processes are exactly those the pstree implies:
// one more (a core of a thread no process has, a pages image of no pid) is
// from another dump, or planted.  Shared objects and ghosts are checked by
// their readers.
void check_no_extra_images(const image::ImageDir& dir, const TreeImage& tree) {
  std::set<std::string> expected{image::filename(image::Kind::Inventory), image::filename(image::Kind::Pstree),
                                 image::filename(image::Kind::Files), image::filename(image::Kind::Manifest),
                                 // what the dump took and what the last restore took:
                                 image::filename(image::Kind::StatsDump), image::filename(image::Kind::StatsRestore)};
  for (const ProcessImage& p : tree.procs) {
    if (p.zombie) continue;
    for (const img::ThreadCoreEntry& t : p.threads) expected.insert(image::filename(image::Kind::Core, t.tid()));
    for (image::Kind k : {image::Kind::Mm, image::Kind::Pagemap, image::Kind::Fs, image::Kind::Fdinfo})
      expected.insert(image::filename(k, uint64_t(p.pid())));
    expected.insert(image::filename(image::Kind::Pages, p.pages_id));
  }
  for (const std::string& name : dir.image_names()) {
    image::Kind kind = *image::kind_of_filename(name);
    if (kind == image::Kind::Shmem || kind == image::Kind::ShmemPages || kind == image::Kind::Ghost) continue;
    if (!expected.count(name))
      throw Error("images in " + dir.path() + " hold " + name +
                  ", which no process of pstree.img has (a file of another dump?)");
  }
}

}  // namespace

void check_shared_runs(const image::ImageDir& dir, const TreeImage& tree) {
  std::map<uint32_t, uint64_t> extent = own_pages_extents(tree);
  for (const ProcessImage& p : tree.procs) {
    for (const ProcessImage::Run& r : p.runs) {
      if (p.own(r)) continue;
      std::string name = dir.path_of(image::Kind::Pagemap, p.pstree.pid());
      std::string pages = image::filename(image::Kind::Pages, r.pages_id);
      auto it = extent.find(r.pages_id);
      if (it == extent.end())
        throw image::CorruptedImage(name, format("the pages at 0x%llx are in %s, which is no process's of the tree",
                                                 (unsigned long long)r.vaddr, pages.c_str()));
      if (r.offset > it->second || r.len > it->second - r.offset)
        throw image::CorruptedImage(
            name, format("the pages at 0x%llx are in %s at 0x%llx-0x%llx, beyond the 0x%llx bytes its pagemap put "
                         "there", (unsigned long long)r.vaddr, pages.c_str(), (unsigned long long)r.offset,
                         (unsigned long long)(r.offset + r.len), (unsigned long long)it->second));
    }
  }
}

TreeImage load_tree_image(const image::ImageDir& dir) {
  TreeImage t;
  ProcessImage proto;
  read_inventory(dir, proto);
  t.inventory = proto.inventory;
  for (const img::PstreeEntry& entry : read_pstree(dir, t.inventory)) {
    ProcessImage p;
    p.inventory = t.inventory;
    p.pstree = entry;
    if (entry.zombie()) {
      // Nothing but its end: it has no other image.
      p.zombie = true;
      p.zombie_status = entry.exit_status() & 0xffff;
    } else {
      read_core(dir, p);
      read_thread_cores(dir, p);
      read_mm(dir, p);
      read_pagemap(dir, p);
      read_fs_and_fds(dir, p);
    }
    t.procs.push_back(std::move(p));
  }
  check_shared_runs(dir, t);
  if (!dir.regular_size(image::Kind::Files))
    throw Error("images in " + dir.path() + " are incomplete: no " + dir.path_of(image::Kind::Files));
  // Every fdinfo and files.img, once.
  std::vector<int> live;
  for (const ProcessImage& p : t.procs)
    if (!p.zombie) live.push_back(p.pid());
  t.files = files::FilesImage::read(dir, live);
  for (ProcessImage& p : t.procs)
    for (const img::FdinfoEntry& e : t.files.fds_of(p.pid())) p.fds.push_back(int(e.fd()));
  check_pages_images(dir, t);
  check_no_extra_images(dir, t);
  return t;
}

int ProcessImage::stop_signal() const {
  if (zombie || !core.has_process()) return 0;
  const img::ProcessCoreEntry& pc = core.process();
  if (!pc.has_task_state() || pc.task_state() != 2) return 0;
  int sig = pc.has_stop_signal() ? int(pc.stop_signal()) : SIGSTOP;  // older images: SIGSTOP
  // Stopped by SIGTSTP, its action was the default one; if the image says
  // otherwise, the stop signal would run a handler: SIGSTOP stops it.
  for (const img::SigactionEntry& a : pc.sigactions())
    if (int(a.signo()) == sig && a.handler() != 0) return SIGSTOP;
  return sig;
}

}  // namespace ckpt::restore
