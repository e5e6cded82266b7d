// The memory areas of a process: what each one is, and which of its pages the
// dump must save.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <vector>

#include "mm.pb.h"
#include "proc/maps.h"

namespace ckpt::mem {

// Which pages of an area hold data the restore cannot get elsewhere.
enum class PageSource {
  None,         // vDSO, vvar, shared file mappings: nothing to save
  Anon,         // present or swapped, except the shared zero page
  PrivateFile,  // as Anon, and only pages no longer the file's (copied on write)
  Shmem,        // the data of the shmem object behind a shared anonymous area
};

struct Vma {
  img::VmaEntry entry;
  PageSource pages = PageSource::None;
};

// Classifies one area.  `file` is the stat of the file behind it (from
// /proc/PID/map_files/START-END) when it has one, nullptr otherwise.
// Returns nullopt for [vsyscall], which is never dumped.  Throws
// "cannot dump memory area START-END (NAME) of pid P: REASON" for an area of
// a kind not supported yet.
std::optional<Vma> classify_vma(const proc::MapsEntry& area, const struct stat* file, pid_t pid);

// Whether the area has a file whose identity classify_vma() needs.
bool needs_file_stat(const proc::MapsEntry& area);

}  // namespace ckpt::mem
