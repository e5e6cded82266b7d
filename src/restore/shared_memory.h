// The objects the tree shares (shmem-ID.img, ghost-ID.img), each created ONCE
// by ckpt, in ordinary C++, before any task exists, and handed to every
// process that maps or holds it:
//
//   shared anonymous memory  mmap(MAP_SHARED|MAP_ANONYMOUS) of its size in
//                            ckpt, /proc/self/map_files/... opened (the shmem
//                            file, "/dev/zero (deleted)"), unmapped, filled
//   memfd                    memfd_create(name), size, content, mode, seals
//   SysV segment             shmget with its id (shm_next_id) and key, or the
//                            segment itself if it outlived the dumped tree
//                            unattached; content; owner and mode
//   deleted file (ghost)     created again where it was (or next to it if the
//                            path is taken), content, mode, owner, mtime;
//                            its name goes again once ckpt holds it
//   deleted directory        (a cwd, a root, an fd) made again where it was
//                            (next to it if the path is taken), with its
//                            deleted ancestors if they are gone; mode and
//                            owner; removed again, ancestors too, once ckpt
//                            holds it (see ghost_dir.cpp)
//   deleted file linked      (dump --link-remap: it had other names) its
//   back by the dump         link linked to where it was, opened, checked
//                            to be the dumped inode, the name removed again;
//                            the link itself is removed by commit() (see
//                            link_remap.cpp)
//
// ckpt keeps an fd of each (inherited by every task): it is a helper fd of
// every process that maps the object (the blob maps it MAP_SHARED at the
// area's pgoff; a SysV area is attached with shmat by id instead), and the
// memfd and deleted-file modules open their descriptions from it.  Segments
// marked for removal are removed by commit() once every process has
// attached; a restore that fails removes the segments it created.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ckpt/unique_fd.h"
#include "files/fs_root.h"
#include "files/objects.h"
#include "ghost.pb.h"
#include "image/image.h"
#include "mm.pb.h"
#include "restore/process_image.h"
#include "shmem.pb.h"

namespace ckpt::restore {

class SharedMemory {
 public:
  // Reads every shmem and ghost image of the directory (each once) and
  // checks that every area of the tree that names one finds it, of its kind.
  // Deleted files and directories are made again under `root` (--root), and
  // the links of dump --link-remap and the paths they go back to are looked
  // up there.
  static SharedMemory load(const image::ImageDir& dir, const TreeImage& tree, const files::FsRoot& root = {});

  SharedMemory() = default;
  SharedMemory(SharedMemory&&) = default;
  SharedMemory& operator=(SharedMemory&&) = default;
  ~SharedMemory();

  // Before anything is created: each SysV segment's id and key free (or the
  // segment itself there, unattached), ghost files' directories present.
  void check();
  // Creates every object in ckpt (after check()).
  void create(const image::ImageDir& dir);

  // For the memfd and deleted-file modules, in the tasks.
  const files::RestoreObjects& fds() const { return fds_; }
  // The fd the blob maps area `v` from, or -1.
  int area_fd(const img::VmaEntry& v) const;
  // The SysV segment the blob attaches at area `v`, or -1.
  int area_shmid(const img::VmaEntry& v) const;

  // Every task has attached its segments: those marked for removal are
  // removed now, and the others stay when ckpt goes.  The links of dump
  // --link-remap are removed (a restore that fails before keeps them, so
  // the images can be restored again).
  void commit();

  size_t objects() const { return shmem_.size() + ghosts_.size(); }

 private:
  struct Run {
    uint64_t pgoff, len, offset;
  };
  struct Shmem {
    img::ShmemHead head;
    std::vector<Run> runs;
    int user = 0;                 // a pid that maps it, for messages (0: none)
    UniqueFd fd;
    int shmid = -1;               // SysV
    bool reuse = false;           // SysV: the dumped segment is still there
    bool created = false;         // SysV: ckpt made it (removed on failure)
  };
  struct Ghost {
    img::GhostHead head;
    std::vector<img::GhostChunk> chunks;
    int user = 0;
    UniqueFd fd;
  };

  std::string describe(const Shmem& s) const;
  void check_sysv(Shmem& s) const;
  void create_sysv(Shmem& s);
  void create_ghost(Ghost& g);
  // ghost_dir.cpp
  std::string describe_ghost_dir(const Ghost& g) const;
  void check_ghost_dir(const Ghost& g) const;
  // Whether `path` is where a ghost directory or one of its deleted
  // ancestors was (made again before the deleted files).
  bool is_ghost_dir(const std::string& path) const;
  // Makes every ghost directory, runs `inside` (which makes the deleted
  // files they held), then removes the directories again.
  void create_ghost_dirs(const std::function<void()>& inside);
  // Where a ghost file at `path` (as looked up: under the root) is made: in
  // the ghost directory that was its parent, wherever that was made.
  std::string ghost_dir_path(const std::string& path) const;
  void fill(Shmem& s, const image::ImageDir& dir);
  // link_remap.cpp: a deleted file that dump --link-remap linked back.
  void check_link_remap(const Ghost& g) const;
  void relink(Ghost& g);
  void remove_link_remaps();

  std::map<uint32_t, Shmem> shmem_;
  std::map<uint32_t, Ghost> ghosts_;
  files::RestoreObjects fds_;
  std::map<std::string, std::string> moved_dirs_;  // ghost directory path (under root_) -> where it was made instead
  files::FsRoot root_;                             // --root: where the paths are
  bool committed_ = false;
};

}  // namespace ckpt::restore
