// Everything the images say about the processes to restore, read and
// checked for consistency before anything is created.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core.pb.h"
#include "files.pb.h"
#include "files/files.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "mm.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"

namespace ckpt::restore {

struct ProcessImage {
  img::InventoryEntry inventory;
  img::PstreeEntry pstree;
  img::CoreEntry core;                 // the main thread's, with the process's part
  std::vector<img::ThreadCoreEntry> threads;  // every thread, the main one first
  img::MmEntry mm;
  std::vector<img::VmaEntry> vmas;     // address order
  bool has_pages = false;             // any run, in whichever pages image
  uint32_t pages_id = 0;               // its own pages image
  struct Run {
    uint64_t vaddr, len, offset;       // bytes
    uint32_t pages_id;                 // the image it is in: its own, or another process's of the tree
  };
  std::vector<Run> runs;               // address order, offsets resolved
  img::FsEntry fs;
  bool has_fs = false;
  std::vector<int> fds;                // the target's fd numbers, ascending
  // A zombie (pstree.img says so; it has no other image): recreated by its
  // parent, it ends at once with this wait status.
  bool zombie = false;
  int zombie_status = 0;

  int pid() const { return int(pstree.pid()); }
  // A process dumped in a group stop: the stop's signal; else 0.
  int stop_signal() const;
  // Whether a run's pages are in the process's own pages image.
  bool own(const Run& r) const { return r.pages_id == pages_id; }
};

// The whole tree: processes in pstree order (parents first), the root first.
struct TreeImage {
  img::InventoryEntry inventory;
  std::vector<ProcessImage> procs;
  files::FilesImage files;             // files.img and every fdinfo

  const ProcessImage& root() const { return procs.front(); }
};

// Reads inventory and pstree, then core, mm, pagemap, fs and fdinfo of every
// live process and core of each of its threads (a zombie has only its
// pstree record).  Throws with a sentence naming the image and what is
// wrong: "images in DIR are incomplete: no inventory.img (the dump did not
// finish)", a wrong architecture, page size or version, a thread listed
// twice or without its core, overlapping areas, page runs outside the
// areas, a root that is not first, runs into a pages image of no process of
// the tree or beyond what that process's pagemap put there.
TreeImage load_tree_image(const image::ImageDir& dir);

// Each run that names another process's pages image (pages shared since
// fork, stored once) names one of a live process of `tree` and lies inside
// what that process's own runs put there; throws "corrupted image
// DIR/pagemap-N.img: ..." naming the image otherwise.
void check_shared_runs(const image::ImageDir& dir, const TreeImage& tree);


}  // namespace ckpt::restore
