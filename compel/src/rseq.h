// Restartable sequences: a thread stopped inside an rseq critical section
// must resume at the section's abort handler (the kernel does that when it
// preempts the thread).  Running injected code first would make the kernel
// forget the section, so compel applies the abort itself before borrowing
// the thread.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>

namespace compel::detail {

struct RseqConfig {
  uint64_t ptr = 0;  // struct rseq of the thread, 0 if none registered
  uint32_t len = 0, sig = 0;
};
RseqConfig rseq_config(pid_t tid);

// If regs.rip lies in the thread's active rseq critical section, moves it
// to the abort handler and clears rseq->rseq_cs, as the kernel would.
void rseq_abort_if_inside(pid_t tid, user_regs_struct& regs);

// Target memory access (process_vm_readv/writev); false on failure.  pid
// may be any live thread of the process (process_vm_readv of a process whose
// main thread has exited fails with ESRCH: it goes through the dead leader).
bool read_mem(pid_t pid, uint64_t addr, void* buf, size_t len);
bool write_mem(pid_t pid, uint64_t addr, const void* buf, size_t len);

}  // namespace compel::detail
