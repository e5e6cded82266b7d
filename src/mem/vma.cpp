#include "mem/vma.h"

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "ckpt/error.h"
#include "files/identity.h"
#include "mem/mman_uapi.h"
#include "mem/shmem.h"

namespace ckpt::mem {

namespace {

// smaps VmFlags that madvise() sets, and the advice that sets each.
struct AdviceFlag {
  const char* vm_flag;
  int advice;
};
constexpr AdviceFlag kAdviceFlags[] = {
    {"rr", MADV_RANDOM},   {"sr", MADV_SEQUENTIAL}, {"dc", MADV_DONTFORK}, {"mg", MADV_MERGEABLE},
    {"hg", MADV_HUGEPAGE}, {"nh", MADV_NOHUGEPAGE},  {"dd", MADV_DONTDUMP}, {"wf", MADV_WIPEONFORK},
};

uint64_t advice_bits(const proc::MapsEntry& area) {
  uint64_t bits = 0;
  for (const AdviceFlag& a : kAdviceFlags)
    if (area.has_vm_flag(a.vm_flag)) bits |= uint64_t(1) << a.advice;
  return bits;
}

uint32_t prot_of(const proc::MapsEntry& area) {
  return (area.read ? PROT_READ : 0) | (area.write ? PROT_WRITE : 0) | (area.exec ? PROT_EXEC : 0);
}

uint32_t map_flags_of(const proc::MapsEntry& area, bool anonymous) {
  // A droppable area (maps shows it "p") is a mapping type of its own; no
  // madvise() makes one.
  uint32_t flags = area.shared ? MAP_SHARED : is_droppable(area) ? MAP_DROPPABLE : MAP_PRIVATE;
  if (anonymous) flags |= MAP_ANONYMOUS;
  if (area.has_vm_flag("gd")) flags |= MAP_GROWSDOWN;
  // Locked on fault (mlock2 MLOCK_ONFAULT) is not MAP_LOCKED, which would
  // fault in the whole area: VmaEntry.lock_on_fault.
  if (area.has_vm_flag("lo") && !area.has_vm_flag("lf")) flags |= MAP_LOCKED;
  if (area.has_vm_flag("nr")) flags |= MAP_NORESERVE;
  return flags;
}

class AreaError {
 public:
  AreaError(const proc::MapsEntry& area, pid_t pid) : area_(area), pid_(pid) {}
  Error operator()(const std::string& reason) const { return area_error(area_, pid_, reason); }

 private:
  const proc::MapsEntry& area_;
  pid_t pid_;
};

// Classifies areas with a "[name]": the vDSO pages, heap, stack, named
// anonymous memory.
std::optional<Vma> classify_special(const proc::MapsEntry& area, const AreaError& fail) {
  Vma v;
  const std::string& n = area.name;
  if (n == "[vdso]") v.entry.set_kind(img::VMA_VDSO);
  else if (n == "[vvar]") v.entry.set_kind(img::VMA_VVAR);
  else if (n == "[vvar_vclock]") v.entry.set_kind(img::VMA_VVAR_VCLOCK);
  else if (n == "[heap]" || n == "[stack]" || n.starts_with("[anon:")) {
    if (area.shared) throw fail("a shared " + n + " area is unexpected");
    v.entry.set_kind(img::VMA_ANON_PRIVATE);
    v.entry.set_heap(n == "[heap]");
    v.entry.set_stack(n == "[stack]");
    v.pages = PageSource::Anon;
  } else if (n.starts_with("[anon_shmem:")) {
    if (!area.shared) throw fail("a private mapping of shared anonymous memory is not supported yet");
    v.entry.set_kind(img::VMA_ANON_SHARED);
    v.object = SharedObject::Shmem;
  } else {
    throw fail("special mappings like " + n + " are not supported yet");
  }
  return v;
}

std::optional<Vma> classify_file(const proc::MapsEntry& area, const struct stat* file, const AreaError& fail) {
  Vma v;
  if (!file) throw fail("its file could not be looked up");
  // MAP_SHARED|MAP_ANONYMOUS memory is a shmem file named "/dev/zero".
  if (area.name == "/dev/zero" && area.deleted && S_ISREG(file->st_mode)) {
    if (!area.shared) throw fail("a private mapping of shared anonymous memory is not supported yet");
    v.entry.set_kind(img::VMA_ANON_SHARED);
    v.object = SharedObject::Shmem;
    return v;
  }
  // MAP_PRIVATE of /dev/zero is plain anonymous memory.
  if (S_ISCHR(file->st_mode) && major(file->st_rdev) == 1 && minor(file->st_rdev) == 5 && !area.shared) {
    v.entry.set_kind(img::VMA_ANON_PRIVATE);
    v.pages = PageSource::Anon;
    return v;
  }
  if (!S_ISREG(file->st_mode)) throw fail("mappings of anything but regular files are not supported yet");
  // A memfd's pages are its own; a private mapping adds those copied on write.
  if (area.deleted && memfd_name(area.name)) {
    v.entry.set_kind(img::VMA_MEMFD);
    v.object = SharedObject::Memfd;
    v.pages = area.shared ? PageSource::None : PageSource::PrivateFile;
    return v;
  }
  if (area.deleted && sysv_key(area.name)) {
    if (!area.shared) throw fail("a private mapping of SysV shared memory is not supported yet");
    v.entry.set_kind(img::VMA_SYSV_SHM);
    v.object = SharedObject::Sysv;
    return v;
  }
  v.entry.set_kind(area.shared ? img::VMA_FILE_SHARED : img::VMA_FILE_PRIVATE);
  *v.entry.mutable_file() = files::make_identity(area.name, *file);
  v.pages = area.shared ? PageSource::None : PageSource::PrivateFile;
  // A deleted file: its content is saved as a ghost, mapped at restore.
  if (area.deleted) v.object = SharedObject::Ghost;
  return v;
}

}  // namespace

bool is_droppable(const proc::MapsEntry& area) { return area.has_vm_flag("dp"); }

bool needs_file_stat(const proc::MapsEntry& area) {
  return area.is_file_path() || area.name.starts_with("[anon_shmem:");
}

Error area_error(const proc::MapsEntry& area, pid_t pid, const std::string& reason) {
  std::string name = area.name.empty() ? "anonymous" : area.name + (area.deleted ? " (deleted)" : "");
  return Error(format("cannot dump memory area %llx-%llx (%s) of pid %d: %s", (unsigned long long)area.start,
                      (unsigned long long)area.end, name.c_str(), pid, reason.c_str()));
}

std::optional<Vma> classify_vma(const proc::MapsEntry& area, const struct stat* file, pid_t pid) {
  AreaError fail(area, pid);
  if (area.name == "[vsyscall]") return std::nullopt;
  std::optional<Vma> v;
  bool special = !area.name.empty() && area.name[0] == '[';
  // Device memory (VM_IO, VM_PFNMAP) has no pages to read; only the vDSO's
  // own data pages may look like it.
  if (!special && (area.has_vm_flag("io") || area.has_vm_flag("pf")))
    throw fail("device memory mappings are not supported yet");
  if (special) {
    v = classify_special(area, fail);
  } else if (area.name.empty()) {
    if (area.shared) throw fail("a shared area without a file is unexpected");
    v.emplace();
    v->entry.set_kind(img::VMA_ANON_PRIVATE);
    v->pages = PageSource::Anon;
  } else if (area.is_file_path()) {
    v = classify_file(area, file, fail);
  } else {
    throw fail("areas like this one are not supported yet");
  }
  img::VmaEntry& e = v->entry;
  bool anonymous = e.kind() == img::VMA_ANON_PRIVATE || e.kind() == img::VMA_ANON_SHARED;
  e.set_start(area.start);
  e.set_end(area.end);
  e.set_pgoff(area.offset);
  e.set_prot(prot_of(area));
  e.set_flags(map_flags_of(area, anonymous));
  if (uint64_t madv = advice_bits(area)) e.set_madv(madv);
  if (area.has_vm_flag("lo") && area.has_vm_flag("lf")) e.set_lock_on_fault(true);
  if (area.has_vm_flag("sl")) e.set_sealed(true);
  e.set_has_pages(false);
  if (!area.name.empty()) e.set_name(area.name + (area.deleted ? " (deleted)" : ""));
  return v;
}

}  // namespace ckpt::mem
