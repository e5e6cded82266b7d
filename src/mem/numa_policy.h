// NUMA memory policies: an area's own (mbind(2)) and a thread's own
// (set_mempolicy(2)), with their mode, mode flags (MPOL_F_STATIC_NODES,
// MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING) and node mask.
//
//   dump     the parasite asks get_mempolicy(2): in each thread for its own,
//            and with MPOL_F_ADDR for each area's (MPOL_DEFAULT: none).
//            /proc/PID/numa_maps is no source: it prints the main thread's
//            policy for an area without one of its own, and the nodes in
//            use rather than those given with MPOL_F_STATIC_NODES or
//            MPOL_F_RELATIVE_NODES
//   restore  the restorer blob binds each area right after mapping it,
//            before its pages are read in (CKPT_SECTION_VMA_MEMPOLICY), and
//            each thread sets its own (CKPT_SECTION_THREAD_MEMPOLICY); a
//            node this machine lacks fails the restore naming the area or
//            the thread (the kernel refuses the call)
//
// An area of shared memory (shmem, SysV, memfd) reports the policy of its
// object at the area's start: it is bound over the whole area again.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "ckpt/restorer_args.h"
#include "core.pb.h"
#include "mm.pb.h"

namespace ckpt::restore {
struct ProcessImage;
}

namespace ckpt::mem {

// Whether get_mempolicy's answer (ret 0 or -errno, mode, mode flags,
// nodes) is a policy to restore: false for MPOL_DEFAULT or a kernel without
// NUMA (ENOSYS).  Throws "WHAT: get_mempolicy failed: ..." for another error.
bool policy_of(const std::string& what, int ret, uint32_t mode, uint32_t flags, const std::vector<uint64_t>& nodes,
               img::MempolicyEntry& out);

// "bind=static:0-1", the numa_maps spelling, for messages.
std::string policy_text(const img::MempolicyEntry& p);

// The restorer's sections.
std::vector<ckpt_restorer_vma_mempolicy> vma_policy_section(const restore::ProcessImage& p);
std::vector<ckpt_restorer_thread_mempolicy> thread_policy_section(const restore::ProcessImage& p);

}  // namespace ckpt::mem
