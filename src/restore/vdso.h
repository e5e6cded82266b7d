// The vDSO at restore: ckpt's own [vvar], [vvar_vclock] and [vdso] (which the
// restored task inherits and the blob moves), matched against the dumped
// ones.  Same kernel, same vDSO: sizes, relative layout and build id must
// agree, else restore refuses before creating anything.
#pragma once

#include <elf.h>
#include <sys/auxv.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/error.h"
#include "ckpt/restorer_args.h"
#include "mm.pb.h"
#include "proc/maps.h"

namespace ckpt::restore {

struct VdsoPart {
  img::VmaKind kind;
  uint64_t start = 0, end = 0;
};

// Header-only for the unit tests; all but own_vdso_build_id() are pure:
//  vdso_parts: the special mappings in maps (of ckpt itself), in address order;
//  elf_build_id: the GNU build id note of an ELF image in memory, or empty;
//  plan_vdso: for each of our parts, where the blob parks it (park_base
//    onwards, in order) and where the dumped task had it; throws "the vDSO
//    of this kernel differs..." if the dumped vDSO is not this kernel's;
//  vdso_park_size: the bytes the parking spot needs.
namespace vdso_detail {

inline const char* kind_name(img::VmaKind k) {
  switch (k) {
    case img::VMA_VDSO: return "[vdso]";
    case img::VMA_VVAR: return "[vvar]";
    case img::VMA_VVAR_VCLOCK: return "[vvar_vclock]";
    default: return "?";
  }
}

inline bool is_vdso_kind(img::VmaKind k) {
  return k == img::VMA_VDSO || k == img::VMA_VVAR || k == img::VMA_VVAR_VCLOCK;
}

inline std::string hex(const std::vector<uint8_t>& bytes) {
  std::string s;
  for (uint8_t b : bytes) s += format("%02x", b);
  return s;
}

[[noreturn]] inline void differs(const std::string& why) {
  throw Error("the vDSO of this kernel differs from the dumped one (" + why +
              "); restore on the kernel that made the dump");
}

}  // namespace vdso_detail

inline std::vector<VdsoPart> vdso_parts(const std::vector<proc::MapsEntry>& maps) {
  std::vector<VdsoPart> parts;
  for (const proc::MapsEntry& e : maps) {
    if (e.name == "[vdso]") parts.push_back({img::VMA_VDSO, e.start, e.end});
    else if (e.name == "[vvar]") parts.push_back({img::VMA_VVAR, e.start, e.end});
    else if (e.name == "[vvar_vclock]") parts.push_back({img::VMA_VVAR_VCLOCK, e.start, e.end});
  }
  return parts;
}

inline std::vector<uint8_t> elf_build_id(const uint8_t* image, size_t size) {
  if (size < sizeof(Elf64_Ehdr) || memcmp(image, ELFMAG, SELFMAG) != 0) return {};
  Elf64_Ehdr eh;
  memcpy(&eh, image, sizeof(eh));
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    uint64_t off = eh.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr);
    if (off + sizeof(Elf64_Phdr) > size) return {};
    Elf64_Phdr ph;
    memcpy(&ph, image + off, sizeof(ph));
    if (ph.p_type != PT_NOTE || ph.p_offset + ph.p_filesz > size) continue;
    uint64_t pos = ph.p_offset, end = ph.p_offset + ph.p_filesz;
    while (pos + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr nh;
      memcpy(&nh, image + pos, sizeof(nh));
      uint64_t name = pos + sizeof(nh);
      uint64_t desc = name + ((uint64_t(nh.n_namesz) + 3) & ~uint64_t(3));
      uint64_t next = desc + ((uint64_t(nh.n_descsz) + 3) & ~uint64_t(3));
      if (next > end) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(image + name, "GNU", 4) == 0)
        return std::vector<uint8_t>(image + desc, image + desc + nh.n_descsz);
      pos = next;
    }
  }
  return {};
}

inline uint64_t vdso_park_size(const std::vector<VdsoPart>& ours) {
  uint64_t total = 0;
  for (const VdsoPart& p : ours) total += p.end - p.start;
  return total;
}

// Why the dumped vDSO is not this kernel's, or empty if it is the same.
inline std::string vdso_mismatch(const std::vector<VdsoPart>& ours, const std::vector<uint8_t>& our_build_id,
                                 const std::vector<img::VmaEntry>& dumped_vmas, const std::string& dumped_build_id) {
  using vdso_detail::kind_name;
  std::vector<const img::VmaEntry*> dumped;
  for (const img::VmaEntry& v : dumped_vmas)
    if (vdso_detail::is_vdso_kind(v.kind())) dumped.push_back(&v);
  if (ours.size() > CKPT_RESTORER_MAX_VDSO_PARTS) return "this kernel has too many vDSO parts";
  if (!dumped_build_id.empty() && !our_build_id.empty() &&
      std::vector<uint8_t>(dumped_build_id.begin(), dumped_build_id.end()) != our_build_id)
    return "build id " + vdso_detail::hex({dumped_build_id.begin(), dumped_build_id.end()}) + " at dump, " +
           vdso_detail::hex(our_build_id) + " here";
  if (dumped.empty()) return {};

  const VdsoPart* our_vdso = nullptr;
  for (const VdsoPart& p : ours)
    if (p.kind == img::VMA_VDSO) our_vdso = &p;
  const img::VmaEntry* dumped_vdso = nullptr;
  for (const img::VmaEntry* v : dumped)
    if (v->kind() == img::VMA_VDSO) dumped_vdso = v;
  for (const VdsoPart& p : ours) {
    const img::VmaEntry* match = nullptr;
    for (const img::VmaEntry* v : dumped)
      if (v->kind() == p.kind) match = v;
    if (!match) return format("the dump has no %s", kind_name(p.kind));
    if (match->end() - match->start() != p.end - p.start)
      return format("%s is %llu bytes at dump, %llu here", kind_name(p.kind),
                    (unsigned long long)(match->end() - match->start()), (unsigned long long)(p.end - p.start));
    if (our_vdso && dumped_vdso && match->start() - dumped_vdso->start() != p.start - our_vdso->start)
      return format("%s sits at another distance from [vdso]", kind_name(p.kind));
  }
  for (const img::VmaEntry* v : dumped) {
    bool known = false;
    for (const VdsoPart& p : ours) known |= p.kind == v->kind();
    if (!known) return format("the dump has %s, this kernel has none", kind_name(v->kind()));
  }
  return {};
}

// Same vDSO: each part goes where the dumped one was.  `ours` must not
// mismatch (vdso_mismatch() empty), else this throws.
inline std::vector<ckpt_restorer_vdso_part> plan_vdso(const std::vector<VdsoPart>& ours,
                                               const std::vector<uint8_t>& our_build_id,
                                               const std::vector<img::VmaEntry>& dumped_vmas,
                                               const std::string& dumped_build_id, uint64_t park_base) {
  std::string why = vdso_mismatch(ours, our_build_id, dumped_vmas, dumped_build_id);
  if (!why.empty()) vdso_detail::differs(why);
  std::vector<ckpt_restorer_vdso_part> plan;
  uint64_t park = park_base;
  for (const VdsoPart& p : ours) {
    ckpt_restorer_vdso_part part{p.start, p.end - p.start, park, 0};
    park += part.size;
    for (const img::VmaEntry& v : dumped_vmas)
      if (v.kind() == p.kind) part.target = v.start();
    plan.push_back(part);
  }
  return plan;
}

// The build id of the vDSO the kernel gave this process.
inline std::vector<uint8_t> own_vdso_build_id() {
  auto base = reinterpret_cast<const uint8_t*>(getauxval(AT_SYSINFO_EHDR));
  if (!base) return {};
  // The vDSO is a few pages; its program headers say how far it goes.
  Elf64_Ehdr eh;
  memcpy(&eh, base, sizeof(eh));
  uint64_t size = sizeof(eh);
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, base + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof(ph));
    size = std::max<uint64_t>(size, ph.p_offset + ph.p_filesz);
  }
  return elf_build_id(base, size);
}

}  // namespace ckpt::restore
