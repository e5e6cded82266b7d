// Scheduling of one thread: policy (SCHED_OTHER, BATCH, IDLE, FIFO, RR), nice
// value, real-time priority and SCHED_RESET_ON_FORK.  Linux keeps all of it
// per thread, and root can read and set it from outside with
// sched_getattr(2)/sched_setattr(2), so neither the parasite nor the
// restorer blob takes part.
//
// Dump reads it from the frozen thread.  Restore sets it from ckpt on each
// thread once the whole tree is held, just before ckpt lets it go: a FIFO
// or RR thread made real-time any earlier could take a CPU from the rest of
// the restore (on two cores, two such threads would stop it), while a held
// thread does not run at all until its release.
#pragma once

#include <sys/types.h>

#include <string>

#include "core.pb.h"

namespace ckpt::task {

// Throws, naming the thread, for a policy ckpt does not restore
// (SCHED_DEADLINE, sched_ext).
img::SchedEntry read_sched(pid_t pid, pid_t tid);

// Gives the held thread its scheduling back and reads it again; throws
// "cannot restore thread T of pid P: ..." if the kernel refuses or the
// result differs.
void apply_sched(pid_t pid, pid_t tid, const img::SchedEntry& want);

// "SCHED_FIFO", "SCHED_IDLE", ... ("policy N" for others).
std::string policy_name(uint32_t policy);

}  // namespace ckpt::task
