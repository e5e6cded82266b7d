// What every step of a dump shares: the options, the frozen tree, the images
// being written, the file table of the whole tree, and the counters of the
// final summary.
#pragma once

#include <cstdint>
#include <map>

#include "cli/options.h"
#include "compel/compel.h"
#include "dump/memory.h"
#include "dump/pending_images.h"
#include "dump/shared_memory.h"
#include "files/files.h"
#include "stats/progress.h"

namespace ckpt::dump {

struct DumpStats {
  uint64_t vmas = 0;
  uint64_t pages = 0;
  uint64_t shared_pages = 0;  // in another process's pages image
  uint64_t fds = 0;
  // For stats-dump.img (summed over the processes):
  uint64_t pages_scanned = 0;
  uint64_t memory_ns = 0;     // page scans and page writing
  uint64_t files_ns = 0;      // the fds
};

struct DumpContext {
  const cli::Options& opts;
  compel::FrozenTree& tree;
  PendingImages& images;
  files::FileTable& files;
  uint64_t page_size;
  DumpStats stats;
  // Shared memory and deleted files, recorded once for the tree.
  SharedObjects* shared = nullptr;
  // The memory of every process dumped so far, by pid: its children's pages
  // still shared with it are found there.
  std::map<pid_t, DumpedMemory> dumped_memory;
  // The progress line (a no-op unless stderr is a terminal).
  stats::Progress* progress = nullptr;
};

}  // namespace ckpt::dump
