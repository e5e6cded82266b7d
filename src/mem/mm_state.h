// The process's memory state beyond its areas that /proc shows: the core
// dump filter (/proc/PID/coredump_filter).  A flag of the memory
// descriptor, so it survives the blob's remaking of the address space, and a
// fork copies it.  (KSM's merge-everything mode, another, is with the prctl
// family: task/prctl.h.)
#pragma once

#include <sys/types.h>

#include "mm.pb.h"

namespace ckpt::mem {

// Reads /proc/PID/coredump_filter into `mm`.
void read_mm_state(pid_t pid, img::MmEntry& mm);

// In the new task, before its blob: sets it as dumped.  Throws naming the
// pid if the kernel refuses.
void apply_mm_state(pid_t pid, const img::MmEntry& mm);

}  // namespace ckpt::mem
