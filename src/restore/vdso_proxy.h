// Restore on a kernel whose vDSO differs from the dumped one.  The restored
// code holds pointers into the dumped [vdso] (glibc looked its functions up
// at startup), so that address keeps an area of the dumped size, r-x and
// anonymous, with a jump at each dumped function's offset to the same-named
// function of this kernel's vDSO.  This kernel's [vvar], [vvar_vclock] and
// [vdso] move together (their code reaches its data by relative addressing)
// to the free place just past the restorer area; the dumped [vvar] parts get
// read-only anonymous stand-ins, so that the maps keep their shape.
//
// Header-only and pure but for own_vdso_functions(), for the unit tests.
#pragma once

#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "check/vdso_layout.h"
#include "ckpt/error.h"
#include "ckpt/restorer_args.h"
#include "mm.pb.h"
#include "restore/vdso.h"

namespace ckpt::restore {

// Function name and offset from the start of [vdso].
using VdsoFunctions = std::vector<std::pair<std::string, uint64_t>>;

// x86-64 `movabs $addr, %rax; jmp *%rax`: %rax is the return value, free to
// clobber at a call.
constexpr size_t kVdsoJumpBytes = 12;
// For a function this kernel's vDSO lacks: the system call of the same name
// (`mov $nr, %eax; syscall; ret`, the arguments are where the call put them),
// or `mov $-ENOSYS, %rax; ret` if there is none (glibc's time functions
// would return that error rather than fall back, hence the system calls).
constexpr size_t kVdsoStubBytes = 8;
constexpr uint8_t kVdsoEnosysStub[kVdsoStubBytes] = {0x48, 0xc7, 0xc0, 0xda, 0xff, 0xff, 0xff, 0xc3};

inline std::optional<uint32_t> vdso_function_syscall(std::string name) {
  if (name.rfind("__vdso_", 0) == 0) name = name.substr(7);
  if (name == "clock_gettime") return SYS_clock_gettime;
  if (name == "clock_getres") return SYS_clock_getres;
  if (name == "gettimeofday") return SYS_gettimeofday;
  if (name == "time") return SYS_time;
  if (name == "getcpu") return SYS_getcpu;
  return std::nullopt;
}

inline void write_vdso_stub(uint8_t* p, const std::string& name) {
  std::optional<uint32_t> nr = vdso_function_syscall(name);
  if (!nr) {
    std::memcpy(p, kVdsoEnosysStub, kVdsoStubBytes);
    return;
  }
  p[0] = 0xb8;  // mov $nr, %eax
  std::memcpy(p + 1, &*nr, 4);
  p[5] = 0x0f, p[6] = 0x05;  // syscall
  p[7] = 0xc3;               // ret
}

// From the start of the first part to the end of the last: the room the
// parts need to move together.
inline uint64_t vdso_span(const std::vector<VdsoPart>& ours) {
  if (ours.empty()) return 0;
  uint64_t lo = ours.front().start, hi = ours.front().end;
  for (const VdsoPart& p : ours) lo = std::min(lo, p.start), hi = std::max(hi, p.end);
  return hi - lo;
}

// Parked as in plan_vdso(), then moved to new_base onwards, keeping the
// distances the kernel gave them.
inline std::vector<ckpt_restorer_vdso_part> plan_vdso_proxy(const std::vector<VdsoPart>& ours, uint64_t park_base,
                                                     uint64_t new_base) {
  if (ours.size() > CKPT_RESTORER_MAX_VDSO_PARTS) vdso_detail::differs("this kernel has too many vDSO parts");
  uint64_t lo = UINT64_MAX;
  for (const VdsoPart& p : ours) lo = std::min(lo, p.start);
  std::vector<ckpt_restorer_vdso_part> plan;
  uint64_t park = park_base;
  for (const VdsoPart& p : ours) {
    plan.push_back({p.start, p.end - p.start, park, new_base + (p.start - lo)});
    park += p.end - p.start;
  }
  return plan;
}

// Where this kernel's [vdso] lands in plan_vdso_proxy().
inline uint64_t proxied_vdso_address(const std::vector<VdsoPart>& ours, uint64_t new_base) {
  uint64_t lo = UINT64_MAX, vdso = 0;
  for (const VdsoPart& p : ours) {
    lo = std::min(lo, p.start);
    if (p.kind == img::VMA_VDSO) vdso = p.start;
  }
  if (!vdso) vdso_detail::differs("this kernel has no [vdso]");
  return new_base + (vdso - lo);
}

// The content of the proxy [vdso] of `size` bytes: int3 everywhere but at
// each dumped function's offset, where a jump to the function of that name
// at new_vdso + its offset in `ours` sits, or a stub.
inline std::vector<uint8_t> vdso_trampolines(const VdsoFunctions& dumped, uint64_t size, const VdsoFunctions& ours,
                                             uint64_t new_vdso) {
  std::map<std::string, uint64_t> by_name(ours.begin(), ours.end());
  // Aliases share an offset: one jump, to whichever name this kernel has.
  std::map<uint64_t, std::pair<std::string, std::optional<uint64_t>>> at;
  for (const auto& [name, offset] : dumped) {
    auto& slot = at[offset];
    if (slot.first.empty()) slot.first = name;
    auto found = by_name.find(name);
    if (found != by_name.end() && !slot.second) slot.second = new_vdso + found->second;
  }
  std::vector<uint8_t> code(size, 0xcc);
  for (auto it = at.begin(); it != at.end(); ++it) {
    uint64_t offset = it->first;
    uint64_t room = (std::next(it) == at.end() ? size : std::next(it)->first) - std::min(offset, size);
    const auto& [name, target] = it->second;
    size_t need = target ? kVdsoJumpBytes : kVdsoStubBytes;
    if (offset >= size || room < need)
      vdso_detail::differs(format("the dumped vDSO's %s at offset 0x%llx has %llu bytes before the next function, "
                                  "a jump to this kernel's needs %zu",
                                  name.c_str(), (unsigned long long)offset,
                                  (unsigned long long)(offset >= size ? 0 : room), need));
    uint8_t* p = code.data() + offset;
    if (target) {
      p[0] = 0x48, p[1] = 0xb8;  // movabs $target, %rax
      std::memcpy(p + 2, &*target, 8);
      p[10] = 0xff, p[11] = 0xe0;  // jmp *%rax
    } else {
      write_vdso_stub(p, name);
    }
  }
  return code;
}

// The functions the dump recorded; a dump without them cannot be proxied.
inline VdsoFunctions dumped_vdso_functions(const img::MmEntry& mm) {
  if (mm.vdso_symbols().empty())
    vdso_detail::differs("and the dump records no vDSO functions to point at this kernel's");
  VdsoFunctions out;
  for (const img::VdsoSymbol& s : mm.vdso_symbols()) out.emplace_back(s.name(), s.offset());
  return out;
}

// The dumped [vdso] as an area the blob maps (writable until the proxy code
// is in), and the dumped [vvar] parts as read-only stand-ins nothing reads.
inline ckpt_restorer_vma vdso_stand_in(const img::VmaEntry& v) {
  ckpt_restorer_vma b{};
  b.start = v.start();
  b.end = v.end();
  b.fd = -1;
  b.map_flags = MAP_PRIVATE | MAP_ANONYMOUS;
  bool code = v.kind() == img::VMA_VDSO;
  b.prot = code ? PROT_READ | PROT_EXEC : PROT_READ;
  b.write_first = code;
  return b;
}

// The functions of the vDSO the kernel gave this process; empty without one.
inline VdsoFunctions own_vdso_functions(const std::vector<VdsoPart>& ours) {
  auto base = reinterpret_cast<const uint8_t*>(getauxval(AT_SYSINFO_EHDR));
  for (const VdsoPart& p : ours)
    if (p.kind == img::VMA_VDSO && base && p.start == reinterpret_cast<uint64_t>(base))
      return check::ElfImage(base, p.end - p.start).functions();
  return {};
}

}  // namespace ckpt::restore
