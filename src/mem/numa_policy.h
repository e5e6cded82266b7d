// NUMA memory policies: an area's own (mbind(2)) and a thread's own
// (set_mempolicy(2)), with their mode, mode flags (MPOL_F_STATIC_NODES,
// MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING) and node mask.
//
//   dump     an area's from /proc/PID/numa_maps, read from outside (the
//            kernel prints each area's policy there; "default" is none);
//            a thread's by the parasite in the thread (get_mempolicy)
//   restore  the restorer blob binds each area right after mapping it,
//            before its pages are read in (CKPT_SECTION_VMA_MEMPOLICY), and
//            each thread sets its own (CKPT_SECTION_THREAD_MEMPOLICY); a
//            node this machine lacks fails the restore naming the area or
//            the thread (the kernel refuses the call)
//
// numa_maps shows the nodes the policy uses, which with MPOL_F_STATIC_NODES
// or MPOL_F_RELATIVE_NODES are the nodes given narrowed (or, relative,
// remapped) to those the task may use; get_mempolicy in the process would
// show the nodes as given.  They are the same whenever the nodes given
// were all allowed, which is the case ckpt restores exactly.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "ckpt/restorer_args.h"
#include "core.pb.h"
#include "mem/vma.h"
#include "mm.pb.h"

namespace ckpt::restore {
struct ProcessImage;
}

namespace ckpt::mem {

// Gives each area with a policy of its own its MempolicyEntry, from
// /proc/PID/numa_maps; throws naming the area for a policy it cannot read.
void add_area_policies(pid_t pid, std::vector<Vma>& vmas);

// Parses the policy of one numa_maps line (the text after the address, up
// to its end): false if it does not start with a policy.  For tests.
bool parse_numa_maps_policy(const std::string& text, img::MempolicyEntry& out);

// The thread's own policy, as the parasite read it (get_mempolicy's result
// ret, 0 or -errno, mode, mode flags and nodes): absent for MPOL_DEFAULT or
// a kernel without NUMA; throws naming the thread if the parasite failed.
struct ThreadPolicy {
  int ret;
  uint32_t mode, flags;
  const std::vector<uint64_t>& nodes;
};
void fill_thread_policy(img::ThreadCoreEntry& t, pid_t pid, const ThreadPolicy& got);

// "bind=static:0-1", the numa_maps spelling, for messages.
std::string policy_text(const img::MempolicyEntry& p);

// The restorer's sections.
std::vector<ckpt_restorer_vma_mempolicy> vma_policy_section(const restore::ProcessImage& p);
std::vector<ckpt_restorer_thread_mempolicy> thread_policy_section(const restore::ProcessImage& p);

}  // namespace ckpt::mem
