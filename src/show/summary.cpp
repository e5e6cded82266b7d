#include "show/summary.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>

#include "core.pb.h"
#include "files.pb.h"
#include "files/module.h"
#include "image/image.h"
#include "mm.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"
#include "shmem.pb.h"

namespace ckpt::show {

namespace {

std::vector<img::PstreeEntry> read_pstree(const image::ImageDir& dir) {
  image::ImageReader reader(dir, image::Kind::Pstree);
  std::vector<img::PstreeEntry> out;
  img::PstreeEntry e;
  while (reader.read(e)) out.push_back(e);
  return out;
}

std::string command_of(const image::ImageDir& dir, const img::PstreeEntry& p) {
  if (p.zombie()) return p.comm() + " <zombie>";
  if (p.threads().empty()) return "?";
  img::CoreEntry core;
  image::ImageReader(dir, image::Kind::Core, p.threads(0)).read_only(core);
  return core.thread().comm();
}

std::string bytes_text(uint64_t n) {
  if (n >= (1ull << 30)) return format("%.1f GiB", double(n) / double(1ull << 30));
  if (n >= (1ull << 20)) return format("%.1f MiB", double(n) / double(1ull << 20));
  if (n >= (1ull << 10)) return format("%llu KiB", (unsigned long long)(n >> 10));
  return format("%llu B", (unsigned long long)n);
}

// "rw-p": protection and private/shared, as /proc/PID/maps shows them.
std::string prot_text(const img::VmaEntry& v) {
  std::string s;
  s += (v.prot() & PROT_READ) ? 'r' : '-';
  s += (v.prot() & PROT_WRITE) ? 'w' : '-';
  s += (v.prot() & PROT_EXEC) ? 'x' : '-';
  s += (v.flags() & MAP_SHARED) ? 's' : 'p';
  return s;
}

std::string area_name(const img::VmaEntry& v) {
  std::string name = v.name();
  if (name.empty() && v.has_file()) name = v.file().path();
  if (name.empty()) name = v.kind() == img::VMA_ANON_SHARED ? "[shared anonymous]" : "[anonymous]";
  if (v.has_shmem_id()) name += format(" (shmem-%u)", v.shmem_id());
  if (v.has_ghost_id()) name += format(" (deleted, ghost-%u)", v.ghost_id());
  return name;
}

struct Span {
  uint64_t start, end;
};

// Pages of [start, end) that `spans` cover (sorted by start, disjoint).
uint64_t covered_pages(const std::vector<Span>& spans, uint64_t start, uint64_t end, uint64_t page) {
  uint64_t bytes = 0;
  auto it = std::upper_bound(spans.begin(), spans.end(), start, [](uint64_t at, const Span& s) { return at < s.start; });
  if (it != spans.begin()) --it;
  for (; it != spans.end() && it->start < end; ++it) {
    uint64_t a = std::max(start, it->start), b = std::min(end, it->end);
    if (a < b) bytes += b - a;
  }
  return bytes / page;
}

// The page runs of a process's pagemap (its own and those in a parent's
// image) as address spans.
std::vector<Span> pagemap_spans(const image::ImageDir& dir, uint32_t pid, uint64_t page) {
  std::vector<Span> out;
  image::ImageReader reader(dir, image::Kind::Pagemap, pid);
  img::PagemapRecord r;
  while (reader.read(r)) {
    const img::PagemapEntry* run = r.has_run() ? &r.run() : r.has_shared_run() ? &r.shared_run() : nullptr;
    if (run) out.push_back({run->vaddr(), run->vaddr() + uint64_t(run->nr_pages()) * page});
  }
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  return out;
}

// A shared memory object's runs, as spans of its offsets.
std::vector<Span> shmem_spans(const image::ImageDir& dir, uint32_t id, uint64_t page) {
  std::vector<Span> out;
  if (!dir.exists(image::Kind::Shmem, id)) return out;
  image::ImageReader reader(dir, image::Kind::Shmem, id);
  img::ShmemRecord r;
  while (reader.read(r))
    if (r.has_run()) out.push_back({r.run().pgoff(), r.run().pgoff() + uint64_t(r.run().nr_pages()) * page});
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  return out;
}

std::string header_line(const img::PstreeEntry& p, const std::string& command) {
  return format("pid %u (%s)", p.pid(), command.c_str());
}

}  // namespace

std::string ps_table(const std::string& path) {
  image::ImageDir dir = image::ImageDir::open(path);
  std::vector<img::PstreeEntry> procs = read_pstree(dir);
  std::map<uint32_t, std::vector<size_t>> children;
  std::vector<size_t> roots;
  std::map<uint32_t, bool> known;
  for (const auto& p : procs) known[p.pid()] = true;
  for (size_t i = 0; i < procs.size(); i++) {
    if (procs[i].ppid() && known.count(procs[i].ppid())) children[procs[i].ppid()].push_back(i);
    else roots.push_back(i);
  }
  std::string out = format("%-8s %-8s %-8s %s\n", "PID", "PPID", "THREADS", "COMMAND");
  std::function<void(size_t, int)> row = [&](size_t i, int depth) {
    const img::PstreeEntry& p = procs[i];
    out += format("%-8u %-8u %-8d %s%s\n", p.pid(), p.ppid(), p.threads_size(), std::string(2 * depth, ' ').c_str(),
                  command_of(dir, p).c_str());
    for (size_t c : children[p.pid()]) row(c, depth + 1);
  };
  for (size_t r : roots) row(r, 0);
  return out;
}

std::string fds_table(const std::string& path) {
  image::ImageDir dir = image::ImageDir::open(path);
  std::map<uint32_t, img::FileEntry> files;
  {
    image::ImageReader reader(dir, image::Kind::Files);
    img::FileEntry e;
    while (reader.read(e)) files[e.id()] = e;
  }
  std::string out;
  for (const img::PstreeEntry& p : read_pstree(dir)) {
    std::string command = command_of(dir, p);
    if (!out.empty()) out += "\n";
    out += header_line(p, command) + "\n";
    if (p.zombie()) {
      out += "  (a zombie: no fds)\n";
      continue;
    }
    std::vector<img::FdinfoEntry> fds;
    image::ImageReader reader(dir, image::Kind::Fdinfo, p.pid());
    img::FdinfoEntry e;
    while (reader.read(e)) fds.push_back(e);
    std::sort(fds.begin(), fds.end(), [](const auto& a, const auto& b) { return a.fd() < b.fd(); });
    out += format("  %-5s %-20s %s\n", "FD", "KIND", "DESCRIPTION");
    for (const img::FdinfoEntry& fd : fds) {
      auto it = files.find(fd.id());
      std::string kind = "?", what = format("(no file %u in files.img)", fd.id());
      if (it != files.end()) {
        try {
          const files::FileModule& m = files::module_of(it->second.kind());
          kind = m.name;
          what = m.describe(it->second);
        } catch (const Error& err) {
          kind = img::FileKind_Name(it->second.kind());
          what = err.what();
        }
      }
      out += format("  %-5u %-20s %s%s\n", fd.fd(), kind.c_str(), what.c_str(), fd.cloexec() ? " [cloexec]" : "");
    }
  }
  return out;
}

std::string mems_table(const std::string& path) {
  image::ImageDir dir = image::ImageDir::open(path);
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  std::string out;
  for (const img::PstreeEntry& p : read_pstree(dir)) {
    std::string command = command_of(dir, p);
    if (!out.empty()) out += "\n";
    out += header_line(p, command) + "\n";
    if (p.zombie()) {
      out += "  (a zombie: no memory)\n";
      continue;
    }
    std::vector<Span> runs = pagemap_spans(dir, p.pid(), page);
    std::map<uint32_t, std::vector<Span>> shmem;
    image::ImageReader reader(dir, image::Kind::Mm, p.pid());
    img::VmaRecord r;
    out += format("  %-33s %10s %-5s %10s  %s\n", "START-END", "SIZE", "PROT", "PAGES", "MAPPING");
    uint64_t total = 0, saved = 0;
    while (reader.read(r)) {
      if (!r.has_vma()) continue;
      const img::VmaEntry& v = r.vma();
      uint64_t pages = covered_pages(runs, v.start(), v.end(), page);
      if (v.has_shmem_id()) {
        // A shared object's pages are in its own image, by offset.
        auto it = shmem.find(v.shmem_id());
        if (it == shmem.end()) it = shmem.emplace(v.shmem_id(), shmem_spans(dir, v.shmem_id(), page)).first;
        pages += covered_pages(it->second, v.pgoff(), v.pgoff() + (v.end() - v.start()), page);
      }
      total += v.end() - v.start();
      saved += pages;
      out += format("  %016llx-%016llx %10s %-5s %10llu  %s\n", (unsigned long long)v.start(),
                    (unsigned long long)v.end(), bytes_text(v.end() - v.start()).c_str(), prot_text(v).c_str(),
                    (unsigned long long)pages, area_name(v).c_str());
    }
    out += format("  %-33s %10s %-5s %10llu  (%s of pages saved)\n", "total", bytes_text(total).c_str(), "",
                  (unsigned long long)saved, bytes_text(saved * page).c_str());
  }
  return out;
}

}  // namespace ckpt::show
