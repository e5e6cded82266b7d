#include "dump/memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/identity.h"
#include "mem/mm_state.h"
#include "mem/page_scan.h"
#include "proc/auxv.h"
#include "proc/maps.h"
#include "proc/read.h"
#include "check/vdso_layout.h"  // ElfImage
#include "restore/vdso.h"       // elf_build_id()

namespace ckpt::dump {

namespace {

// "/proc/PID/map_files/START-END": the file behind an area, even a deleted one.
std::string map_file_path(pid_t pid, const proc::MapsEntry& area) {
  return proc::path(pid, format("map_files/%llx-%llx", (unsigned long long)area.start, (unsigned long long)area.end));
}

// The file of an area, through map_files (needs CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE) or else by its path.
std::optional<struct stat> stat_area_file(pid_t pid, const proc::MapsEntry& area) {
  struct stat st;
  if (stat(map_file_path(pid, area).c_str(), &st) == 0) return st;
  if (!area.deleted && stat(area.name.c_str(), &st) == 0 && st.st_ino == area.inode) return st;
  return std::nullopt;
}

img::MmEntry make_mm(pid_t pid, const proc::Stat& stat) {
  img::MmEntry mm;
  mm.set_start_code(stat.start_code);
  mm.set_end_code(stat.end_code);
  mm.set_start_data(stat.start_data);
  mm.set_end_data(stat.end_data);
  mm.set_start_stack(stat.start_stack);
  mm.set_start_brk(stat.start_brk);
  mm.set_brk(stat.start_brk);  // replaced by the parasite's brk(0)
  mm.set_arg_start(stat.arg_start);
  mm.set_arg_end(stat.arg_end);
  mm.set_env_start(stat.env_start);
  mm.set_env_end(stat.env_end);
  std::string auxv_path = proc::path(pid, "auxv");
  for (uint64_t v : proc::parse_auxv(proc::read_file(auxv_path), auxv_path)) mm.add_auxv(v);

  std::string exe_link = proc::path(pid, "exe");
  std::string exe = proc::read_link(exe_link);
  if (exe.ends_with(" (deleted)"))
    throw Error(format("cannot dump pid %d: its executable %s was deleted", pid, exe.c_str()));
  struct stat st;
  if (::stat(exe_link.c_str(), &st) < 0) throw sys_error("cannot stat " + exe_link);
  *mm.mutable_exe() = files::make_identity(exe, st);
  return mm;
}

// The pages worth saving of one area, in its process's pages image, and its
// guard pages, recorded with the area.
std::vector<mem::PageRange> area_pages(mem::PagemapScanner& scanner, const proc::MapsEntry& area, mem::Vma& vma,
                                       pid_t pid) {
  mem::AreaScan scan = scanner.scan_area(area.start, area.end, vma.pages);
  // The kernel installs guard pages in no locked area (EINVAL); one locked
  // after them could not be made again.
  if (!scan.guards.empty() && area.has_vm_flag("lo"))
    throw mem::area_error(area, pid, "it is locked (mlock) and has guard pages, which cannot be restored");
  for (const mem::PageRange& g : scan.guards) {
    img::PageSpan* span = vma.entry.add_guards();
    span->set_start(g.start);
    span->set_end(g.end);
  }
  return std::move(scan.pages);
}

// Pages still shared with the parent are looked for in private anonymous
// areas only (heap, stack, anonymous mmaps): those a fork shares.
bool may_share_with_parent(const mem::Vma& vma) { return vma.entry.kind() == img::VMA_ANON_PRIVATE; }

// The page frames of the process and its parent, or nothing (the pages are
// then stored again) if either pagemap cannot be opened.
std::optional<mem::SharedWithParent> open_sharing(pid_t pid, const DumpedMemory* parent, uint64_t page_size) {
  if (!parent) return std::nullopt;
  try {
    return std::optional<mem::SharedWithParent>(std::in_place, pid, parent->proc_id, parent->pages, page_size);
  } catch (const Error& e) {
    LOG_INFO("pid %d: pages shared with its parent since fork are stored again: %s", pid, e.what());
    return std::nullopt;
  }
}

// Adds one area's pages to the plan: shared with the parent where they are,
// the rest the process's own.
uint64_t plan_area(MemorySnapshot& m, const std::vector<mem::PageRange>& ranges, const mem::Vma& vma,
                   std::optional<mem::SharedWithParent>& sharing) {
  if (sharing && may_share_with_parent(vma)) return m.plan.add_pieces(sharing->split(ranges));
  return m.plan.add_area(ranges);
}

void log_sharing(pid_t pid, const std::optional<mem::SharedWithParent>& sharing, uint64_t page_size) {
  if (!sharing) return;
  if (sharing->shared_pages() == 0 && sharing->hidden_frames() > 0)
    LOG_INFO("pid %d: its pagemap shows no page frame numbers (ckpt runs without CAP_SYS_ADMIN): pages it still "
             "shares with its parent are stored again", pid);
  else
    LOG_INFO("pid %d: %llu pages (%.1f MiB) still shared with its parent since fork, not stored again", pid,
             (unsigned long long)sharing->shared_pages(), double(sharing->shared_pages() * page_size) / (1 << 20));
}

// The GNU build id of the process's vDSO, so that restore can tell whether
// the vDSO of its kernel is the same code, and its exported functions, so
// that restore can point them at its own vDSO if not.
void record_vdso(pid_t pid, uint64_t start, uint64_t size, img::MmEntry& mm) {
  std::string mem_path = proc::path(pid, "mem");
  UniqueFd mem(::open(mem_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!mem) throw sys_error("cannot open " + mem_path);
  std::vector<uint8_t> image(size);
  if (pread(mem.get(), image.data(), size, off_t(start)) != ssize_t(size))
    throw sys_error(format("cannot read the vDSO of pid %d", pid));
  std::vector<uint8_t> id = restore::elf_build_id(image.data(), image.size());
  mm.set_vdso_build_id(std::string(id.begin(), id.end()));
  try {
    for (const auto& [name, offset] : check::ElfImage(image.data(), image.size()).functions()) {
      img::VdsoSymbol* sym = mm.add_vdso_symbols();
      sym->set_name(name);
      sym->set_offset(offset);
    }
  } catch (const Error& e) {
    // Only a restore on another vDSO needs them; it will refuse then.
    LOG_WARN("pid %d: the vDSO's symbols are not recorded: %s", pid, e.what());
    mm.clear_vdso_symbols();
  }
}

// The pages of areas the process cannot read (PROT_NONE, write-only,
// exec-only), which vmsplice refuses (EFAULT): read through /proc/PID/mem,
// whose reads the kernel makes with FOLL_FORCE, as a debugger's, so without
// changing the area's protection.  ckpt traces the process, which the file
// requires.
class UnreadablePages {
 public:
  explicit UnreadablePages(pid_t pid) : pid_(pid), buffer_(kChunk) {
    std::string path = proc::path(pid, "mem");
    mem_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!mem_) throw sys_error("cannot open " + path);
  }

  // Appends the range's pages to the image; returns the bytes written.
  uint64_t copy(const mem::PageRange& r, image::PagesWriter& pages) {
    for (uint64_t at = r.start; at < r.end;) {
      size_t want = size_t(std::min<uint64_t>(kChunk, r.end - at));
      ssize_t n = pread(mem_.get(), buffer_.data(), want, off_t(at));
      if (n < 0 && errno == EINTR) continue;
      if (n != ssize_t(want)) {
        if (n >= 0) errno = EIO;
        throw sys_error(format("cannot read the pages of pid %d at %llx (an area it cannot read itself)", pid_,
                               (unsigned long long)at));
      }
      pages.write(buffer_.data(), want);
      at += want;
    }
    return r.size();
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  pid_t pid_;
  UniqueFd mem_;
  std::vector<uint8_t> buffer_;
};

}  // namespace

MemorySnapshot snapshot_memory(pid_t pid, const proc::Stat& stat, uint64_t page_size, SharedObjects& shared,
                               const DumpedMemory* parent) {
  MemorySnapshot m{make_mm(pid, stat), {}, mem::PagePlan(page_size)};
  mem::read_mm_state(pid, m.mm);
  std::string smaps_path = proc::path(pid, "smaps");
  std::vector<proc::MapsEntry> areas = proc::parse_maps(proc::read_file(smaps_path), smaps_path);
  mem::PagemapScanner scanner(pid);
  std::optional<mem::SharedWithParent> sharing = open_sharing(pid, parent, page_size);
  for (const proc::MapsEntry& area : areas) {
    std::optional<struct stat> file;
    if (mem::needs_file_stat(area)) file = stat_area_file(pid, area);
    std::optional<mem::Vma> vma = mem::classify_vma(area, file ? &*file : nullptr, pid);
    if (!vma) continue;
    if (vma->object != mem::SharedObject::None) {
      if (!file) throw mem::area_error(area, pid, "its object could not be looked up through " + map_file_path(pid, area));
      shared.add_area(pid, area, *file, *vma);
    }
    if (vma->pages != mem::PageSource::None) m.pages_scanned += area.size() / page_size;
    uint64_t pages = plan_area(m, area_pages(scanner, area, *vma, pid), *vma, sharing);
    vma->entry.set_has_pages(pages > 0);
    if (vma->entry.kind() == img::VMA_VDSO) {
      m.mm.set_vdso_start(area.start);
      record_vdso(pid, area.start, area.size(), m.mm);
    }
    if (vma->entry.kind() == img::VMA_VVAR) m.mm.set_vvar_start(area.start);
    LOG_DEBUG("area %llx-%llx %s kind %s, %llu pages", (unsigned long long)area.start, (unsigned long long)area.end,
              vma->entry.name().c_str(), img::VmaKind_Name(vma->entry.kind()).c_str(), (unsigned long long)pages);
    m.vmas.push_back(std::move(*vma));
  }
  LOG_INFO("pid %d: %zu areas, %llu pages with data in %zu runs", pid, m.vmas.size(),
           (unsigned long long)m.plan.pages(), m.plan.runs().size());
  log_sharing(pid, sharing, page_size);
  return m;
}

void dump_pages(compel::Infection& infection, const MemorySnapshot& mem, image::PagesWriter& pages, pid_t pid,
                const std::function<void(uint64_t)>& progress) {
  if (mem.plan.ranges().empty()) return;
  auto start = std::chrono::steady_clock::now();
  uint64_t written = 0;
  // The pages go into the image in plan order: readable ones spliced by the
  // parasite (vmsplice), those of unreadable areas read by ckpt between them.
  std::vector<compel::Infection::Range> readable;
  auto splice_readable = [&] {
    if (!readable.empty()) written += infection.splice_pages(readable, pages.fd(), progress);
    readable.clear();
  };
  std::optional<UnreadablePages> unreadable;
  size_t vi = 0;
  for (const mem::PageRange& r : mem.plan.ranges()) {
    while (vi < mem.vmas.size() && mem.vmas[vi].entry.end() <= r.start) vi++;
    if (vi < mem.vmas.size() && !(mem.vmas[vi].entry.prot() & PROT_READ)) {
      splice_readable();
      if (!unreadable) unreadable.emplace(pid);
      uint64_t n = unreadable->copy(r, pages);
      written += n;
      if (progress) progress(n);
    } else {
      readable.push_back({r.start, r.size()});
    }
  }
  splice_readable();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  LOG_INFO("pid %d: spliced %.1f MiB of pages in %.0f ms (%.2f GB/s)", pid, double(written) / (1 << 20), ms,
           ms > 0 ? double(written) / ms / 1e6 : 0.0);
  if (written != mem.plan.bytes())
    throw Error(format("cannot dump the memory of pid %d: %llu bytes of pages written, %llu expected", pid,
                       (unsigned long long)written, (unsigned long long)mem.plan.bytes()));
}

void write_memory_images(PendingImages& images, pid_t pid, const MemorySnapshot& mem, uint32_t pages_id) {
  image::ImageWriter& mm = images.open(image::Kind::Mm, uint64_t(pid));
  img::VmaRecord record;
  *record.mutable_mm() = mem.mm;
  mm.write(record);
  for (const mem::Vma& vma : mem.vmas) {
    *record.mutable_vma() = vma.entry;
    mm.write(record);
  }

  image::ImageWriter& pagemap = images.open(image::Kind::Pagemap, uint64_t(pid));
  img::PagemapRecord head;
  head.mutable_head()->set_pages_id(pages_id);
  pagemap.write(head);
  img::PagemapRecord run;
  for (const img::PagemapEntry& e : mem.plan.runs()) {
    // A run into another process's pages image is a record kind of its
    // own, which a ckpt that does not know it refuses.
    *(e.has_in_pages_id() ? run.mutable_shared_run() : run.mutable_run()) = e;
    pagemap.write(run);
  }
}

}  // namespace ckpt::dump
