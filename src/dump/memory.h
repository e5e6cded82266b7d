// The memory of a process: its areas and mm fields (mm-<pid>.img), and the
// pages that hold data (pagemap-<pid>.img, pages-<id>.img).
#pragma once

#include <functional>

#include <sys/types.h>

#include <vector>

#include "compel/compel.h"
#include "dump/pending_images.h"
#include "dump/shared_memory.h"
#include "mem/page_plan.h"
#include "mem/shared_pages.h"
#include "mem/vma.h"
#include "mm.pb.h"
#include "proc/stat.h"

namespace ckpt::dump {

struct MemorySnapshot {
  img::MmEntry mm;              // brk is set from the parasite's report
  std::vector<mem::Vma> vmas;   // address order, has_pages set
  mem::PagePlan plan;
  uint64_t pages_scanned = 0;   // of the areas whose page tables were read (for the stats)
};

// What a dumped process leaves for the dump of its children: where its
// pagemap put each page, and the /proc id its page frames are read through.
struct DumpedMemory {
  pid_t proc_id;
  mem::DumpedPages pages;
};

// Reads the areas (smaps), classifies them and finds their pages; before
// infection, so that the parasite's own area is not among them.  Areas of
// shared objects (shared anonymous memory, memfds, SysV segments, deleted
// files) are recorded in `shared`, which saves their pages once for the
// tree: the process's pagemap has none of them (but the pages a private
// mapping of a memfd or a deleted file copied on write).  With the
// `parent`'s memory (already dumped, still frozen), pages of private
// anonymous areas still shared with it since fork are runs into its pages
// image rather than pages of this process's own.
MemorySnapshot snapshot_memory(pid_t pid, const proc::Stat& stat, uint64_t page_size, SharedObjects& shared,
                               const DumpedMemory* parent = nullptr);

// Splices the planned pages from inside the process into `pages`.
// `progress`, if any, hears of the bytes as they are written.
void dump_pages(compel::Infection& infection, const MemorySnapshot& mem, image::PagesWriter& pages, pid_t pid,
                const std::function<void(uint64_t)>& progress = {});

// mm-<pid>.img and pagemap-<pid>.img; `pages_id` names the pages image.
void write_memory_images(PendingImages& images, pid_t pid, const MemorySnapshot& mem, uint32_t pages_id);

}  // namespace ckpt::dump
