#include "restore/area_features.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "ckpt/error.h"
#include "mem/mman_uapi.h"

namespace ckpt::restore {

namespace {

// One probe each, made once: "" when the kernel does it, else why not.
std::string probe_droppable() {
  long page = sysconf(_SC_PAGESIZE);
  void* m = mmap(nullptr, size_t(page), PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return std::strerror(errno);
  munmap(m, size_t(page));
  return "";
}

std::string probe_guards() {
  long page = sysconf(_SC_PAGESIZE);
  void* m = mmap(nullptr, size_t(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return std::strerror(errno);
  std::string why = madvise(m, size_t(page), MADV_GUARD_INSTALL) == 0 ? "" : std::strerror(errno);
  munmap(m, size_t(page));
  return why;
}

// mseal of nothing: 0 where the call exists (Linux 6.10), ENOSYS before.
std::string probe_seal() {
  return syscall(462 /* mseal */, 0ul, 0ul, 0ul) == 0 ? "" : std::strerror(errno);
}

// madvise(advice) of a private anonymous page: "" if this kernel takes it
// (MADV_MERGEABLE needs KSM, MADV_HUGEPAGE transparent huge pages).
std::string probe_advice(int advice) {
  long page = sysconf(_SC_PAGESIZE);
  void* m = mmap(nullptr, size_t(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return std::strerror(errno);
  std::string why = madvise(m, size_t(page), advice) == 0 ? "" : std::strerror(errno);
  munmap(m, size_t(page));
  return why;
}

const std::string& cached(std::optional<std::string>& slot, std::string (*probe)()) {
  if (!slot) slot = probe();
  return *slot;
}

std::string area_name(const ProcessImage& p, const img::VmaEntry& v) {
  return format("pid %d: its area %llx-%llx", p.pid(), (unsigned long long)v.start(), (unsigned long long)v.end());
}

}  // namespace

void check_area_features(const ProcessImage& p) {
  static std::optional<std::string> droppable, guards, seal;
  static std::optional<std::string> advice[64];
  for (const img::VmaEntry& v : p.vmas) {
    // The advice restore replays (a kernel without KSM refuses
    // MADV_MERGEABLE, one without THP MADV_HUGEPAGE).
    for (int a : {MADV_MERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE}) {
      if (!(v.madv() & (1ull << a))) continue;
      if (!advice[a]) advice[a] = probe_advice(a);
      if (!advice[a]->empty())
        throw Error(format("cannot restore %s has madvise advice %d, which this kernel refuses (%s)",
                           area_name(p, v).c_str(), a, advice[a]->c_str()));
    }
    if ((v.flags() & MAP_TYPE) == MAP_DROPPABLE && !cached(droppable, probe_droppable).empty())
      throw Error("cannot restore " + area_name(p, v) + " is MAP_DROPPABLE, which this kernel refuses (" +
                  *droppable + "; Linux 6.11 has it)");
    if (v.guards_size() && !cached(guards, probe_guards).empty())
      throw Error("cannot restore " + area_name(p, v) + " has guard pages, which this kernel cannot install (" +
                  *guards + "; Linux 6.13 has MADV_GUARD_INSTALL)");
    if (v.sealed() && !cached(seal, probe_seal).empty())
      throw Error("cannot restore " + area_name(p, v) + " is sealed, which this kernel cannot do (mseal: " + *seal +
                  "; Linux 6.10 has it)");
  }
}

}  // namespace ckpt::restore
