// Probe of the vDSO restore has to put in place: present, a sane ELF with
// __vdso_clock_gettime, and a layout restore knows how to move.
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "check/probe.h"
#include "check/read_file.h"
#include "check/vdso_layout.h"
#include "ckpt/error.h"

namespace ckpt::check {
namespace {

std::string describe(const VdsoLayout& l) {
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  struct Named {
    const char* name;
    const std::optional<VmaRange>* range;
  };
  std::vector<Named> present;
  for (Named n : {Named{"[vvar]", &l.vvar}, Named{"[vvar_vclock]", &l.vvar_vclock}, Named{"[vdso]", &l.vdso}})
    if (*n.range) present.push_back(n);
  std::sort(present.begin(), present.end(),
            [](const Named& a, const Named& b) { return (*a.range)->start < (*b.range)->start; });
  std::string out;
  for (const Named& n : present) {
    if (!out.empty()) out += ", ";
    out += format("%s %llu pages at 0x%llx", n.name, static_cast<unsigned long long>((*n.range)->pages(page)),
                  static_cast<unsigned long long>((*n.range)->start));
  }
  return out;
}

}  // namespace

std::string probe_vdso() {
  VdsoLayout layout = parse_vdso_layout(read_file("/proc/self/maps"));
  if (!layout.vdso) throw Error("/proc/self/maps shows no [vdso]");
  uint64_t ehdr = getauxval(AT_SYSINFO_EHDR);
  if (ehdr != layout.vdso->start)
    throw Error(format("AT_SYSINFO_EHDR 0x%llx is not the start of [vdso] 0x%llx",
                       static_cast<unsigned long long>(ehdr),
                       static_cast<unsigned long long>(layout.vdso->start)));
  ElfImage elf(reinterpret_cast<const uint8_t*>(ehdr), layout.vdso->end - layout.vdso->start);
  auto clock_gettime = elf.symbol("__vdso_clock_gettime");
  if (!clock_gettime) throw Error("the vDSO exports no __vdso_clock_gettime");
  return format("%s; %llu dynamic symbols, __vdso_clock_gettime at [vdso]+0x%llx", describe(layout).c_str(),
                static_cast<unsigned long long>(elf.symbol_count()),
                static_cast<unsigned long long>(*clock_gettime));
}

}  // namespace ckpt::check
