// The files the restorer blob maps or hands to the kernel: the pages images
// (its own, and those of ancestors its pages were shared with since fork),
// every file behind a file-backed area, and the executable.  Opened by ckpt
// before the task exists, each checked to be the very file that was dumped
// (device, inode, size, mtime), so the task cannot be half-made when a file
// turns out to be gone.  The child moves them to high fd numbers for the blob,
// which closes them at the end.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ckpt/unique_fd.h"
#include "files/fs_root.h"
#include "image/image.h"
#include "report/blocker.h"
#include "restore/process_image.h"
#include "restore/tuning.h"

namespace ckpt::restore {

struct HelperFiles {
  std::vector<UniqueFd> fds;          // index = helper slot
  std::map<size_t, int> vma_slot;     // index into ProcessImage::vmas -> slot
  std::map<size_t, int> vma_shmid;    // index into ProcessImage::vmas -> SysV segment to attach
  int exe_slot = -1;
  int pages_slot = -1;                // its own pages image (-1: no run reads it)
  bool pages_direct = false;
  uint64_t pages_size = 0;
  // Pages images of other processes of the tree that runs read (pages
  // shared since fork, stored once), by pages id.
  struct OtherPages {
    int slot;
    uint64_t size;
  };
  std::map<uint32_t, OtherPages> other_pages;
};

class SharedMemory;

// Areas of the tree's shared objects (shared memory, memfds, deleted files)
// take a duplicate of the object's fd from `shared` (created by then), or
// its SysV id.  Mapped files and the executable are looked up under `root`
// (--root).
HelperFiles open_helper_files(const image::ImageDir& dir, const ProcessImage& p, const Tuning& tuning,
                              const SharedMemory* shared = nullptr, const files::FsRoot& root = {});

// Before anything is made: each file behind a file-backed area of `p`
// (deleted files and memfds aside: they are the tree's objects) and its
// executable that open_helper_files() would refuse (looked up under
// `root`) is one blocker in `found`.
void check_mapped_files(const ProcessImage& p, const files::FsRoot& root, report::BlockerList& found);

// Throws "cannot restore pid N: the pid is taken by 'bash' (pid N)" (or a
// thread of a process holds it) if the pid is in use.
void check_pid_free(int pid);

}  // namespace ckpt::restore
