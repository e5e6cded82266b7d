// Running code in a stopped thread: resume it at an address and wait for
// the SIGTRAP that ends the run; on top of that, one syscall in the
// thread's context.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>

#include "tree.h"

namespace compel::detail {

// A `syscall` instruction in the target.
struct SyscallSite {
  enum Kind {
    Vdso,     // in the vDSO: single-stepped over
    Trapped,  // followed by int3 (the parasite's gadget): run to the trap
    Patched,  // "syscall; int3" written over the thread's ip for each call
  } kind;
  uint64_t addr;
};

// The vDSO's syscall instruction if the target has the same vDSO as compel
// (same kernel, found at the same offset), else a patch at regs.rip; tid is
// the stopped thread of process pid that will run the syscalls.
SyscallSite find_syscall_site(pid_t pid, pid_t tid, const user_regs_struct& regs);

// Resumes the stopped thread with `request` (PTRACE_CONT or
// PTRACE_SINGLESTEP) and waits until it traps at expect_ip.  Stop signals
// meanwhile are let through (a group stop), a crash or a trap elsewhere
// throws Error, an exit throws TaskDied, and so does a timeout (Error).
void run_to_trap(ThreadRecord& t, int request, uint64_t expect_ip, Deadline deadline, const std::string& what);

// Handles one report of a thread running injected code: true once it has
// trapped at expect_ip; false after resuming it again with `request`.
bool on_report(ThreadRecord& t, const Report& r, int request, uint64_t expect_ip, const std::string& what);

// Runs syscall nr with args in thread t, starting from register frame
// `base`; returns the raw result (-errno on failure).
long remote_syscall(ThreadRecord& t, const SyscallSite& site, const user_regs_struct& base, Deadline deadline,
                    long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0,
                    uint64_t a6 = 0);

// The word at addr in the target (PTRACE_PEEKDATA); nullopt if unreadable.
std::optional<uint64_t> peek_word(pid_t tid, uint64_t addr);
void poke_word(pid_t tid, uint64_t addr, uint64_t word);

}  // namespace compel::detail
