// The vDSO as restore sees it: where [vvar], [vvar_vclock] and [vdso] sit in
// /proc/PID/maps, and whether the [vdso] image is an ELF exporting the
// symbols ckpt relies on.  Header-only and pure (text and byte buffers in,
// values out) so that the unit tests can exercise it on crafted input.
#pragma once

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ckpt/error.h"

namespace ckpt::check {

struct VmaRange {
  uint64_t start = 0, end = 0;
  uint64_t pages(uint64_t page_size) const { return (end - start) / page_size; }
};

// The special mappings; absent ones stay empty (older kernels have no
// [vvar_vclock], a kernel booted with vdso=0 has none at all).
struct VdsoLayout {
  std::optional<VmaRange> vvar, vvar_vclock, vdso;
};

inline VdsoLayout parse_vdso_layout(std::string_view maps) {
  VdsoLayout out;
  while (!maps.empty()) {
    size_t nl = maps.find('\n');
    std::string_view line = maps.substr(0, nl);
    maps = nl == std::string_view::npos ? std::string_view() : maps.substr(nl + 1);
    // "start-end perms offset dev inode   name": the name follows 5 fields.
    size_t pos = 0;
    for (int field = 0; field < 5 && pos != std::string_view::npos; ++field) {
      pos = line.find_first_not_of(' ', pos);
      if (pos != std::string_view::npos) pos = line.find(' ', pos);
    }
    if (pos == std::string_view::npos) continue;
    std::string_view name = line.substr(pos);
    name.remove_prefix(std::min(name.find_first_not_of(' '), name.size()));
    std::optional<VmaRange>* slot = name == "[vdso]"          ? &out.vdso
                                    : name == "[vvar]"        ? &out.vvar
                                    : name == "[vvar_vclock]" ? &out.vvar_vclock
                                                              : nullptr;
    if (!slot) continue;
    std::string range(line.substr(0, line.find(' ')));
    char* dash = nullptr;
    VmaRange r;
    r.start = std::strtoull(range.c_str(), &dash, 16);
    if (*dash != '-') continue;
    r.end = std::strtoull(dash + 1, nullptr, 16);
    if (r.end > r.start) *slot = r;
  }
  return out;
}

// A bounds-checked view of an ELF image held in memory (the vDSO mapping).
class ElfImage {
 public:
  ElfImage(const uint8_t* data, size_t size) : data_(data), size_(size) {
    const Elf64_Ehdr* eh = at<Elf64_Ehdr>(0);
    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) throw Error("the vDSO is not an ELF image");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_type != ET_DYN ||
        eh->e_machine != EM_X86_64)
      throw Error("the vDSO is not a 64-bit little-endian x86-64 shared object");
    if (eh->e_phentsize != sizeof(Elf64_Phdr)) throw Error("the vDSO has program headers of an unknown size");
    for (unsigned i = 0; i < eh->e_phnum; ++i) {
      const Elf64_Phdr* ph = at<Elf64_Phdr>(eh->e_phoff + i * sizeof(Elf64_Phdr));
      if (!ph) throw Error("the vDSO's program headers lie outside it");
      if (ph->p_type == PT_LOAD && !load_) load_ = ph;
      if (ph->p_type == PT_DYNAMIC) dynamic_ = ph;
    }
    if (!load_ || !dynamic_) throw Error("the vDSO has no loadable segment or no dynamic section");
    read_dynamic();
  }

  // The value (offset from the image's start) of a defined dynamic symbol.
  std::optional<uint64_t> symbol(std::string_view name) const {
    for (uint64_t i = 1; i < nsyms_; ++i) {
      const Elf64_Sym* sym = at<Elf64_Sym>(symtab_ + i * sizeof(Elf64_Sym));
      if (!sym) throw Error("the vDSO's symbol table lies outside it");
      if (sym->st_shndx == SHN_UNDEF || sym->st_name >= strsz_) continue;
      const char* s = reinterpret_cast<const char*>(data_ + strtab_ + sym->st_name);
      size_t max = strsz_ - sym->st_name;
      if (strnlen(s, max) == name.size() && memcmp(s, name.data(), name.size()) == 0)
        return sym->st_value - load_->p_vaddr + load_->p_offset;
    }
    return std::nullopt;
  }
  uint64_t symbol_count() const { return nsyms_; }

  // Every defined function symbol with its offset from the image's start
  // (aliases such as clock_gettime and __vdso_clock_gettime both appear).
  std::vector<std::pair<std::string, uint64_t>> functions() const {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (uint64_t i = 1; i < nsyms_; ++i) {
      const Elf64_Sym* sym = at<Elf64_Sym>(symtab_ + i * sizeof(Elf64_Sym));
      if (!sym) throw Error("the vDSO's symbol table lies outside it");
      if (sym->st_shndx == SHN_UNDEF || sym->st_name >= strsz_ || ELF64_ST_TYPE(sym->st_info) != STT_FUNC) continue;
      const char* s = reinterpret_cast<const char*>(data_ + strtab_ + sym->st_name);
      out.emplace_back(std::string(s, strnlen(s, strsz_ - sym->st_name)),
                       sym->st_value - load_->p_vaddr + load_->p_offset);
    }
    return out;
  }

 private:
  template <typename T>
  const T* at(uint64_t offset, uint64_t count = 1) const {
    if (offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(data_ + offset);
  }

  // The vDSO is not relocated: dynamic entries hold link-time addresses.
  uint64_t offset_of(uint64_t vaddr) const {
    if (vaddr < load_->p_vaddr || vaddr - load_->p_vaddr >= load_->p_filesz)
      throw Error("a vDSO dynamic entry points outside its loadable segment");
    return vaddr - load_->p_vaddr + load_->p_offset;
  }

  void read_dynamic() {
    uint64_t hash = 0, gnu_hash = 0;
    bool have_symtab = false, have_strtab = false;
    for (uint64_t off = dynamic_->p_offset;; off += sizeof(Elf64_Dyn)) {
      const Elf64_Dyn* d = at<Elf64_Dyn>(off);
      if (!d || off >= dynamic_->p_offset + dynamic_->p_filesz)
        throw Error("the vDSO's dynamic section is unterminated");
      if (d->d_tag == DT_NULL) break;
      switch (d->d_tag) {
        case DT_SYMTAB: symtab_ = offset_of(d->d_un.d_ptr); have_symtab = true; break;
        case DT_STRTAB: strtab_ = offset_of(d->d_un.d_ptr); have_strtab = true; break;
        case DT_STRSZ: strsz_ = d->d_un.d_val; break;
        case DT_HASH: hash = offset_of(d->d_un.d_ptr); break;
        case DT_GNU_HASH: gnu_hash = offset_of(d->d_un.d_ptr); break;
        default: break;
      }
    }
    if (!have_symtab || !have_strtab || !at<char>(strtab_, strsz_))
      throw Error("the vDSO has no dynamic symbol or string table");
    if (hash) {
      const uint32_t* h = at<uint32_t>(hash, 2);
      if (!h) throw Error("the vDSO's hash table lies outside it");
      nsyms_ = h[1];  // nchain is the number of symbols
    } else if (gnu_hash) {
      nsyms_ = gnu_hash_symbol_count(gnu_hash);
    } else {
      throw Error("the vDSO has neither DT_HASH nor DT_GNU_HASH");
    }
  }

  // GNU hash tables do not store the count: it is one past the last symbol
  // of the longest chain.
  uint64_t gnu_hash_symbol_count(uint64_t off) const {
    const uint32_t* h = at<uint32_t>(off, 4);
    if (!h) throw Error("the vDSO's GNU hash table lies outside it");
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
    uint64_t buckets_off = off + 16 + uint64_t(bloom_size) * 8;
    const uint32_t* buckets = at<uint32_t>(buckets_off, nbuckets);
    if (!buckets) throw Error("the vDSO's GNU hash buckets lie outside it");
    uint64_t last = 0;
    for (uint32_t i = 0; i < nbuckets; ++i) last = std::max<uint64_t>(last, buckets[i]);
    if (last < symoffset) return symoffset;
    uint64_t chains_off = buckets_off + uint64_t(nbuckets) * 4;
    for (;; ++last) {
      const uint32_t* c = at<uint32_t>(chains_off + (last - symoffset) * 4);
      if (!c) throw Error("the vDSO's GNU hash chains lie outside it");
      if (*c & 1) return last + 1;
    }
  }

  const uint8_t* data_;
  size_t size_;
  const Elf64_Phdr* load_ = nullptr;
  const Elf64_Phdr* dynamic_ = nullptr;
  uint64_t symtab_ = 0, strtab_ = 0, strsz_ = 0, nsyms_ = 0;
};

}  // namespace ckpt::check
