#include "restore/premap.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/mman_uapi.h"
#include "restore/layout.h"

namespace ckpt::restore {

namespace {

// Areas whose mapping the blob could replace by a plain anonymous one moved
// into place: nothing that mmap flags or a fork would treat otherwise.
bool premappable(const img::VmaEntry& v) {
  constexpr uint64_t kForkAdvice = (1ull << MADV_WIPEONFORK) | (1ull << MADV_DONTFORK);
  return v.kind() == img::VMA_ANON_PRIVATE && !(v.flags() & (MAP_GROWSDOWN | MAP_LOCKED)) &&
         (v.flags() & MAP_TYPE) == MAP_PRIVATE && !(v.madv() & kForkAdvice) && !v.lock_on_fault();
}

// The first run of `p` that ends after `start` (runs are in address order).
std::vector<ProcessImage::Run>::const_iterator first_run_after(const ProcessImage& p, uint64_t start) {
  return std::lower_bound(p.runs.begin(), p.runs.end(), start,
                          [](const ProcessImage::Run& r, uint64_t at) { return r.vaddr + r.len <= at; });
}

// Whether a run of `p` in [start, end) is in another process's pages image
// (a page it shared with its parent at the dump).
bool has_parents_pages(const ProcessImage& p, uint64_t start, uint64_t end) {
  for (auto it = first_run_after(p, start); it != p.runs.end() && it->vaddr < end; ++it)
    if (!p.own(*it)) return true;
  return false;
}

// The parent's premap that holds [start, end), or null.
const Premap* holding(const ProcessImage& parent, const std::vector<Premap>& premaps, uint64_t start, uint64_t end) {
  for (const Premap& m : premaps) {
    const img::VmaEntry& b = parent.vmas[m.vma];
    if (b.start() <= start && end <= b.end()) return &m;
  }
  return nullptr;
}

}  // namespace

std::vector<std::vector<Premap>> plan_premaps(const TreeImage& tree, const std::vector<int>& parent,
                                              std::vector<std::pair<uint64_t, uint64_t>> busy, uint64_t task_size) {
  const size_t n = tree.procs.size();
  std::vector<std::vector<Premap>> plan(n);
  std::vector<std::vector<size_t>> children(n);
  for (size_t i = 0; i < n; i++)
    if (parent[i] >= 0 && !tree.procs[i].zombie) children[size_t(parent[i])].push_back(i);
  std::vector<Range> taken;
  for (auto [s, e] : busy) taken.push_back({s, e});
  for (const ProcessImage& p : tree.procs)
    for (const img::VmaEntry& v : p.vmas) taken.push_back({v.start(), v.end()});

  // Parents come first in tree.procs: a parent's premaps are known when its
  // children's are planned.
  for (size_t i = 0; i < n; i++) {
    const ProcessImage& p = tree.procs[i];
    if (p.zombie) continue;
    for (size_t a = 0; a < p.vmas.size(); a++) {
      const img::VmaEntry& v = p.vmas[a];
      if (!premappable(v)) continue;
      uint64_t len = v.end() - v.start();
      if (parent[i] >= 0 && has_parents_pages(p, v.start(), v.end())) {
        const ProcessImage& up = tree.procs[size_t(parent[i])];
        if (const Premap* b = holding(up, plan[size_t(parent[i])], v.start(), v.end())) {
          plan[i].push_back({a, b->at + (v.start() - up.vmas[b->vma].start()), len, true});
          continue;
        }
      }
      bool shared_down = std::any_of(children[i].begin(), children[i].end(), [&](size_t c) {
        return has_parents_pages(tree.procs[c], v.start(), v.end());
      });
      if (!shared_down) continue;
      std::optional<uint64_t> at = find_gap(taken, len, 1ull << 32, task_size, 1ull << 20);
      if (!at) at = find_gap(taken, len, 1ull << 20, task_size, 0);
      if (!at) {
        LOG_INFO("pid %d: no room to premap %llx-%llx: its children get copies of its pages", p.pid(),
                 (unsigned long long)v.start(), (unsigned long long)v.end());
        continue;
      }
      taken.push_back({*at, *at + len});
      plan[i].push_back({a, *at, len, false});
    }
  }
  return plan;
}

void PremapReservations::reserve(const std::vector<std::vector<Premap>>& plan) {
  for (const auto& premaps : plan)
    for (const Premap& m : premaps) {
      if (m.inherited) continue;
      void* p = mmap(reinterpret_cast<void*>(m.at), m.len, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED || reinterpret_cast<uint64_t>(p) != m.at) {
        if (p != MAP_FAILED) munmap(p, m.len);
        throw sys_error(format("cannot reserve room for premapped memory at 0x%llx", (unsigned long long)m.at));
      }
      ranges_.push_back({m.at, m.len});
    }
}

PremapReservations::~PremapReservations() {
  for (auto [at, len] : ranges_) munmap(reinterpret_cast<void*>(at), len);
}

namespace {

void read_fully(int fd, char* to, uint64_t len, uint64_t offset, pid_t pid) {
  while (len) {
    ssize_t n = pread(fd, to, len, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      throw sys_error(format("cannot restore pid %d: cannot read its pages at offset %llu", pid,
                             (unsigned long long)offset));
    }
    to += n;
    len -= uint64_t(n);
    offset += uint64_t(n);
  }
}

int run_fd(const ProcessImage& p, const ProcessImage::Run& r, const HelperFiles& h, const std::vector<int>& src) {
  int slot = p.own(r) ? h.pages_slot : h.other_pages.at(r.pages_id).slot;
  return src.at(size_t(slot));
}

void drop(uint64_t from, uint64_t to) {
  if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
}

}  // namespace

void fill_premaps(const ProcessImage& p, const std::vector<Premap>& premaps, const HelperFiles& helpers,
                  const std::vector<int>& helper_src) {
  for (const Premap& m : premaps) {
    const img::VmaEntry& v = p.vmas[m.vma];
    if (!m.inherited) {
      void* at = mmap(reinterpret_cast<void*>(m.at), m.len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (v.flags() & MAP_NORESERVE), -1, 0);
      if (at == MAP_FAILED) throw sys_error(format("cannot restore pid %d: cannot premap %llx-%llx", p.pid(),
                                                   (unsigned long long)v.start(), (unsigned long long)v.end()));
    }
    // An inherited premap holds the parent's pages: the parent's ones of
    // this process stay (still the same physical pages), its own are read
    // over them, and the rest, which it did not have, are dropped.
    uint64_t done = v.start();
    for (auto it = first_run_after(p, v.start()); it != p.runs.end() && it->vaddr < v.end(); ++it) {
      const ProcessImage::Run& r = *it;
      uint64_t s = std::max(r.vaddr, v.start()), e = std::min(r.vaddr + r.len, v.end());
      if (m.inherited) drop(m.at + (done - v.start()), m.at + (s - v.start()));
      done = e;
      if (m.inherited && !p.own(r)) continue;
      // Faulted in at once rather than page by page inside the read.
      if (!m.inherited) madvise(reinterpret_cast<void*>(m.at + (s - v.start())), e - s, 23 /* MADV_POPULATE_WRITE */);
      read_fully(run_fd(p, r, helpers, helper_src), reinterpret_cast<char*>(m.at + (s - v.start())), e - s,
                 r.offset + (s - r.vaddr), p.pid());
    }
    if (m.inherited) drop(m.at + (done - v.start()), m.at + m.len);
  }
}

}  // namespace ckpt::restore
