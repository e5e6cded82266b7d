// The vDSO at restore: ckpt's own [vvar], [vvar_vclock] and [vdso] (which the
// restored task inherits and the blob moves), matched against the dumped
// ones.  Same kernel, same vDSO: sizes, relative layout and build id must
// agree, else restore refuses before creating anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/restorer_args.h"
#include "mm.pb.h"
#include "proc/maps.h"

namespace ckpt::restore {

struct VdsoPart {
  img::VmaKind kind;
  uint64_t start = 0, end = 0;
};

// The special mappings in maps (of ckpt itself), in address order.
std::vector<VdsoPart> vdso_parts(const std::vector<proc::MapsEntry>& maps);

// The GNU build id note of an ELF image in memory; empty if it has none.
std::vector<uint8_t> elf_build_id(const uint8_t* image, size_t size);
// The build id of the vDSO the kernel gave this process.
std::vector<uint8_t> own_vdso_build_id();

// For each of our parts: where the blob parks it (park_base onwards, in
// order) and where the dumped task had it.  Throws "the vDSO differs..."
// if the dumped vDSO is not this kernel's.
std::vector<ckpt_restorer_vdso_part> plan_vdso(const std::vector<VdsoPart>& ours,
                                               const std::vector<uint8_t>& our_build_id,
                                               const std::vector<img::VmaEntry>& dumped_vmas,
                                               const std::string& dumped_build_id, uint64_t park_base);

// Bytes the parking spot needs.
uint64_t vdso_park_size(const std::vector<VdsoPart>& ours);

}  // namespace ckpt::restore
