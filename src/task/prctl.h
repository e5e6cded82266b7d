// The prctl family of a process and its threads, and the audit login uid:
// what Linux keeps per thread (timer slack, parent-death signal,
// speculation controls, TSC and CPUID faulting, machine-check kill policy;
// no_new_privs, keepcaps and the securebits go with the credentials) and
// per process (child subreaper, THP disable,
// membarrier registrations, KSM memory merge, dumpable, loginuid).
//
//   dump     the parasite reads them inside each thread and the process
//            (pie/parasite), /proc gives the loginuid; what cannot be
//            restored is refused here, by name
//   restore  the process's own, in the restored process before its blob
//            (apply_process_prctl: they outlive the blob's unmapping of
//            ckpt and the threads it creates inherit them); each thread's,
//            by the thread itself in the blob after its credentials
//            (CKPT_SECTION_THREAD_PRCTL, pie/restorer/prctl.c); dumpable by
//            ckpt once every thread is held (see dumpable_after_creds)
//
// Memory-deny-write-execute (PR_SET_MDWE) is refused at infection
// (compel/src/infect.cpp): the parasite cannot be mapped under it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "ckpt/restorer_args.h"
#include "compel/compel.h"
#include "core.pb.h"

namespace ckpt::restore {
struct ProcessImage;
}

namespace ckpt::task {

// --- dump ---

// The per-thread fields of a live thread's core image.
void fill_thread_prctl(img::ThreadCoreEntry& t, const compel::ThreadInfo& info);
// The per-process fields; throws for what cannot be restored (dumpable 2).
void fill_process_prctl(img::ProcessCoreEntry& p, pid_t pid, const compel::ProcessInfo& info, uint32_t loginuid);
// The audit login uid every live thread of the process has; throws if a
// thread has its own.
uint32_t read_loginuid(pid_t pid, const std::vector<pid_t>& tids);

// --- restore ---

// What the restored process sets in itself before its blob.
struct ProcessPrctl {
  bool child_subreaper = false;
  uint32_t thp_disable = 0;             // PR_GET_THP_DISABLE value
  uint32_t membarrier = 0;              // MEMBARRIER_CMD_REGISTER_* bits
  std::optional<uint32_t> loginuid;     // absent: keep ckpt's (an older image)
  bool memory_merge = false;            // PR_SET_MEMORY_MERGE
};
ProcessPrctl process_prctl(const img::ProcessCoreEntry& p);
// Run by the restored process itself (only a task may write its own
// loginuid); throws "cannot restore pid P: ..." naming the item.
void apply_process_prctl(int pid, const ProcessPrctl& want);

// One entry per live thread for CKPT_SECTION_THREAD_PRCTL; throws for a
// state this ckpt cannot give (a speculation control that its own forced
// state forbids).
std::vector<ckpt_restorer_thread_prctl> thread_prctl_section(const restore::ProcessImage& p);

// Checked before any task exists: a pdeath signal of a thread of the root
// fires when its parent after the restore, ckpt, exits (with -d, at once).
void check_root_pdeath(const restore::ProcessImage& root, bool detach);

// dumpable (PR_SET_DUMPABLE 0 or 1) is the mm's, and any thread's uid change
// resets it: ckpt sets it when every thread is held.  -1: leave.
int dumpable_after_creds(const img::ProcessCoreEntry& p);

// For messages: "speculative store bypass", "PR_SPEC_DISABLE" ...
const char* speculation_kind(uint64_t kind);
const char* speculation_state(uint64_t state);

}  // namespace ckpt::task
