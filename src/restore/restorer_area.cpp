#include "restore/restorer_area.h"

#include <sys/mman.h>

#include <cstring>

#include "blob.h"
#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"
#include "restore/args_fill.h"

namespace ckpt::restore {

namespace {

constexpr uint64_t kMargin = 16 << 20;  // clear of stack guard gaps and neighbours
constexpr uint64_t kMinAddr = 1 << 20;

}  // namespace

RestorerArea& RestorerArea::operator=(RestorerArea&& o) noexcept {
  if (this != &o) {
    if (start_) munmap(reinterpret_cast<void*>(start_), layout_.total);
    start_ = std::exchange(o.start_, 0);
    layout_ = o.layout_;
    threads_ = std::move(o.threads_);
  }
  return *this;
}

uint64_t RestorerArea::stack_top() const { return start_ + layout_.stack_off + kMainStackSize; }

const ckpt_restorer_thread* RestorerArea::thread(pid_t tid) const {
  for (const auto& [t, off] : threads_)
    if (t == tid) return reinterpret_cast<const ckpt_restorer_thread*>(reinterpret_cast<const char*>(args()) + off);
  return nullptr;
}

RestorerArea::~RestorerArea() {
  if (start_) munmap(reinterpret_cast<void*>(start_), layout_.total);
}

RestorerArea RestorerArea::map_at(uint64_t addr, const AreaLayout& layout) {
  void* p = mmap(reinterpret_cast<void*>(addr), layout.total, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) throw sys_error(format("cannot map the restorer area at 0x%llx", (unsigned long long)addr));
  RestorerArea area;
  area.start_ = addr;
  area.layout_ = layout;
  if (reinterpret_cast<uint64_t>(p) != addr) {
    munmap(p, layout.total);
    area.start_ = 0;
    throw Error(format("cannot map the restorer area at 0x%llx: the kernel put it elsewhere", (unsigned long long)addr));
  }
  std::memcpy(p, ckpt_blob_restorer, ckpt_blob_restorer_size);
  return area;
}

namespace {

std::optional<uint64_t> choose_place(const ArgsInputs& in, const std::vector<proc::MapsEntry>& own_maps,
                                     uint64_t size) {
  std::vector<Range> busy;
  for (const proc::MapsEntry& m : own_maps)
    if (m.end <= in.task_size) busy.push_back({m.start, m.end});
  for (const img::VmaEntry& v : in.image->vmas) busy.push_back({v.start(), v.end()});
  std::optional<uint64_t> addr = find_gap(busy, size, kMinAddr, in.task_size, kMargin);
  if (!addr) addr = find_gap(busy, size, kMinAddr, in.task_size, 0);
  return addr;
}

}  // namespace

RestorerArea build_restorer_area(const ArgsInputs& in, const std::vector<proc::MapsEntry>& own_maps) {
  AreaLayout layout = area_layout(in);
  ArgsImage args = build_args(in, layout);
  layout = with_args(layout, args.bytes.size());
  // With a vDSO proxy, this kernel's vDSO moves just past the area.
  uint64_t vdso_room = needs_vdso_proxy(in) ? vdso_span(in.our_vdso) : 0;
  std::vector<proc::MapsEntry> maps = own_maps;
  RestorerArea area;
  // ckpt's own allocations may take the chosen place between reading its
  // maps and mapping there: then the maps are read again.
  for (int attempt = 0;; attempt++) {
    std::optional<uint64_t> addr = choose_place(in, maps, layout.total + vdso_room);
    if (!addr)
      throw Error(format("cannot restore pid %d: no room for the restorer (%llu KiB) between its memory areas",
                         in.image->pid(), (unsigned long long)(layout.total >> 10)));
    try {
      area = RestorerArea::map_at(*addr, layout);
      break;
    } catch (const Error&) {
      if (attempt == 2) throw;
      maps = proc::parse_maps(proc::read_file("/proc/self/maps"), "/proc/self/maps");
    }
  }
  LOG_DEBUG("restorer area 0x%llx-0x%llx (blob %llu bytes, %zu threads, args %zu bytes)",
            (unsigned long long)area.start(), (unsigned long long)area.end(),
            (unsigned long long)ckpt_blob_restorer_size, args.threads.size(), args.bytes.size());
  bind_args(args, in, area);
  area.threads_ = std::move(args.threads);
  return area;
}

}  // namespace ckpt::restore
