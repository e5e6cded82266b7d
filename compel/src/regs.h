// Register access of a stopped thread: general registers (NT_PRSTATUS, with
// fs_base/gs_base), the extended state (NT_X86_XSTATE) and the legacy FPU
// area (NT_PRFPREG), and the signal mask.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <vector>

namespace compel::detail {

void get_gp(pid_t tid, user_regs_struct& regs);
void set_gp(pid_t tid, const user_regs_struct& regs);
std::vector<uint8_t> get_xstate(pid_t tid);  // empty if the CPU has no XSAVE
void set_xstate(pid_t tid, const std::vector<uint8_t>& xstate);
std::vector<uint8_t> get_fpregs(pid_t tid);
void set_fpregs(pid_t tid, const std::vector<uint8_t>& fpregs);
uint64_t get_sigmask(pid_t tid);
void set_sigmask(pid_t tid, uint64_t mask);

// What a thread looked like before compel ran code in it.
struct SavedState {
  user_regs_struct gp;
  std::vector<uint8_t> xstate;
  std::vector<uint8_t> fpregs;  // restored only when there is no xstate
  uint64_t sigmask;
};
SavedState save_state(pid_t tid);
void restore_state(pid_t tid, const SavedState& s);

}  // namespace compel::detail
