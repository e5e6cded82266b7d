// The process's memory state beyond its areas that /proc shows: the core
// dump filter and KSM's merge-everything mode (PR_SET_MEMORY_MERGE).  Both
// are flags of the memory descriptor, so they survive the blob's remaking of
// the address space, and a fork copies them.
#pragma once

#include <sys/types.h>

#include "mm.pb.h"

namespace ckpt::mem {

// Reads /proc/PID/coredump_filter and /proc/PID/ksm_stat (absent without
// KSM) into `mm`.
void read_mm_state(pid_t pid, img::MmEntry& mm);

// In the new task, before its blob: sets them as dumped.  Throws naming the
// pid if the kernel refuses.
void apply_mm_state(pid_t pid, const img::MmEntry& mm);

}  // namespace ckpt::mem
