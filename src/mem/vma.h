// The memory areas of a process: what each one is, and which of its pages the
// dump must save.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <vector>

#include "ckpt/error.h"
#include "mm.pb.h"
#include "proc/maps.h"

namespace ckpt::mem {

// Which pages of an area hold data the restore cannot get elsewhere.
enum class PageSource {
  None,         // vDSO, vvar, shared file mappings: nothing to save
  Anon,         // present or swapped, except the shared zero page
  PrivateFile,  // as Anon, and only pages no longer the file's (copied on write)
};

// The object behind an area that other areas, processes or fds may share,
// saved once for the tree (see dump/shared_memory.h) rather than with the
// area: its pages are the object's.
enum class SharedObject {
  None,
  Shmem,        // MAP_SHARED|MAP_ANONYMOUS memory (VMA_ANON_SHARED)
  Memfd,        // a memfd (VMA_MEMFD, shared or private)
  Sysv,         // a SysV shared memory segment (VMA_SYSV_SHM)
  Ghost,        // a deleted file (VMA_FILE_*: its content goes into a ghost image)
};

struct Vma {
  img::VmaEntry entry;
  PageSource pages = PageSource::None;
  SharedObject object = SharedObject::None;
};

// Classifies one area.  `file` is the stat of the file behind it (from
// /proc/PID/map_files/START-END) when it has one, nullptr otherwise.
// Returns nullopt for [vsyscall], which is never dumped.  Throws
// "cannot dump memory area START-END (NAME) of pid P: REASON" for an area of
// a kind not supported yet.
std::optional<Vma> classify_vma(const proc::MapsEntry& area, const struct stat* file, pid_t pid);

// Whether the area was mapped MAP_DROPPABLE (Linux 6.11): smaps VmFlags "dp".
bool is_droppable(const proc::MapsEntry& area);

// Whether the area has a file whose identity classify_vma() needs.
bool needs_file_stat(const proc::MapsEntry& area);

// "cannot dump memory area START-END (NAME) of pid P: REASON".
Error area_error(const proc::MapsEntry& area, pid_t pid, const std::string& reason);

}  // namespace ckpt::mem
