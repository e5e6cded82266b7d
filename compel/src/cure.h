// How a borrowed thread gets back to where it was without compel's help.
//
// Before compel changes anything in a thread it writes a cure chain: a
// linked list of rt_sigreturn frames.  The last one holds the thread's own
// registers, FPU state and signal mask (an interrupted syscall set to be
// issued again); each one before it makes one syscall on the way (closing
// what the parasite opened, unmapping the parasite area) through a
// "syscall; ret" sequence of the process's own code, whose ret lands on the
// next frame.  Both sequences are found in the target's read-only code,
// outside the parasite area, so that they outlive its unmapping.
//
// Where the chain goes: on a thread's own stack, below its red zone, when
// that stack is one whose memory below the stack pointer is free by the
// ABI (the process's [stack], or a thread stack: a private mapping above
// its guard page, holding the thread's TLS at its top), which is where the
// kernel itself would put a signal frame.  Elsewhere (a goroutine or
// coroutine stack inside a heap) writing there could hit live data: such a
// thread's chain goes into the parasite area instead, which then cannot
// unmap itself should compel die (the chain that reads a frame there must
// find it mapped).
//
// A thread that compel lets run is "parked" on its chain: rip at the
// sigreturn sequence, rsp at the chain's head.  Remote syscalls are made
// from there (remote_syscall.h) and return there; the parasite jumps there
// when its control socket closes.  Whatever moment compel dies at, the
// thread resumes into the chain and ends up as it was found.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <vector>

#include "proc.h"
#include "regs.h"

namespace compel::detail {

struct CureGadgets {
  uint64_t sigreturn = 0;      // "mov $15, %eax (or %rax); syscall"
  uint64_t sigreturn_end = 0;  // just past its syscall: the ip of its entry stop
  uint64_t syscall_ret = 0;    // "syscall; ret", 0 if the process has none
};

// Searches the process's read-only code (the vDSO and the dynamic loader and
// libc first).  Throws if it has no sigreturn sequence.
CureGadgets find_cure_gadgets(pid_t pid, pid_t mem_tid, const std::vector<proc::MapArea>& maps);

// A syscall the chain makes before the thread's own frame: nr(a1, a2).
struct ChainCall {
  long nr;
  uint64_t a1 = 0, a2 = 0;
};

struct CureChain {
  uint64_t head = 0;                // the first frame
  std::vector<uint64_t> arg_slots;  // where each call keeps a1, in order
  std::vector<uint64_t> nr_slots;   // where each call keeps its syscall number
  uint64_t parked_sp() const { return head + 8; }
};

// The bytes a chain of `calls` calls takes for a thread saved as `saved`.
size_t cure_chain_bytes(const SavedState& saved, size_t calls);

// The top of the free stack below the red zone of a thread stopped with
// `regs`, if it runs on a stack whose memory below rsp is free by the ABI
// and has `bytes` of it; 0 otherwise.
uint64_t room_on_own_stack(const user_regs_struct& regs, size_t bytes, const std::vector<proc::MapArea>& maps);

// Writes the chain for a thread whose real state is `saved` (pending: the
// signals pending for it, which decide whether a wait the freeze ended is
// issued again) so that it ends below `top`.  The calls need
// g.syscall_ret; without it they are left out.
CureChain write_cure_chain(pid_t pid, pid_t mem_tid, pid_t tid, const SavedState& saved, uint64_t pending,
                           const CureGadgets& g, const std::vector<ChainCall>& calls, uint64_t top);

// The registers that park a thread on its chain.
user_regs_struct parked_regs(const user_regs_struct& saved, const CureGadgets& g, const CureChain& chain);

// A free, page-aligned place for `size` bytes in the process, away from
// where its stack grows; throws if there is none.
uint64_t pick_area_address(pid_t pid, const std::vector<proc::MapArea>& maps, uint64_t size);

}  // namespace compel::detail
