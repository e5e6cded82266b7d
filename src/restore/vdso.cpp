#include "restore/vdso.h"

#include <elf.h>
#include <sys/auxv.h>

#include <cstring>

namespace ckpt::restore {

std::vector<uint8_t> own_vdso_build_id() {
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
