#include "regs.h"

#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <cerrno>

#include "ptrace_util.h"

namespace compel::detail {

namespace {

uint64_t ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }

// Size of the XSAVE area as the kernel reports it; 0 if there is none.
size_t xstate_size(pid_t tid) {
  static size_t cached = SIZE_MAX;
  if (cached != SIZE_MAX) return cached;
  alignas(64) static uint8_t probe[16384];
  struct iovec iov = {probe, sizeof(probe)};
  long r = pt_try(PTRACE_GETREGSET, tid, NT_X86_XSTATE, ptr(&iov));
  if (r == -ENODEV || r == -EINVAL) return cached = 0;
  if (r < 0) pt(PTRACE_GETREGSET, tid, NT_X86_XSTATE, ptr(&iov), "reading the extended registers");
  return cached = iov.iov_len;
}

}  // namespace

void get_gp(pid_t tid, user_regs_struct& regs) {
  struct iovec iov = {&regs, sizeof(regs)};
  pt(PTRACE_GETREGSET, tid, NT_PRSTATUS, ptr(&iov), "reading the registers");
}

void set_gp(pid_t tid, const user_regs_struct& regs) {
  struct iovec iov = {const_cast<user_regs_struct*>(&regs), sizeof(regs)};
  pt(PTRACE_SETREGSET, tid, NT_PRSTATUS, ptr(&iov), "writing the registers");
}

std::vector<uint8_t> get_xstate(pid_t tid) {
  size_t size = xstate_size(tid);
  std::vector<uint8_t> out(size);
  if (size == 0) return out;
  struct iovec iov = {out.data(), out.size()};
  pt(PTRACE_GETREGSET, tid, NT_X86_XSTATE, ptr(&iov), "reading the extended registers");
  out.resize(iov.iov_len);
  return out;
}

void set_xstate(pid_t tid, const std::vector<uint8_t>& xstate) {
  if (xstate.empty()) return;
  struct iovec iov = {const_cast<uint8_t*>(xstate.data()), xstate.size()};
  pt(PTRACE_SETREGSET, tid, NT_X86_XSTATE, ptr(&iov), "writing the extended registers");
}

std::vector<uint8_t> get_fpregs(pid_t tid) {
  std::vector<uint8_t> out(sizeof(user_fpregs_struct));
  struct iovec iov = {out.data(), out.size()};
  pt(PTRACE_GETREGSET, tid, NT_PRFPREG, ptr(&iov), "reading the FPU registers");
  out.resize(iov.iov_len);
  return out;
}

void set_fpregs(pid_t tid, const std::vector<uint8_t>& fpregs) {
  if (fpregs.empty()) return;
  struct iovec iov = {const_cast<uint8_t*>(fpregs.data()), fpregs.size()};
  pt(PTRACE_SETREGSET, tid, NT_PRFPREG, ptr(&iov), "writing the FPU registers");
}

uint64_t get_sigmask(pid_t tid) {
  uint64_t mask = 0;
  pt(PTRACE_GETSIGMASK, tid, sizeof(mask), ptr(&mask), "reading the signal mask");
  return mask;
}

void set_sigmask(pid_t tid, uint64_t mask) {
  pt(PTRACE_SETSIGMASK, tid, sizeof(mask), ptr(&mask), "writing the signal mask");
}

SavedState save_state(pid_t tid) {
  SavedState s{};
  get_gp(tid, s.gp);
  s.xstate = get_xstate(tid);
  s.fpregs = get_fpregs(tid);
  s.sigmask = get_sigmask(tid);
  return s;
}

// The registers last: until they change, a thread let go by a dead tracer
// still runs its cure chain, which sets the mask and the FPU state again.
void restore_state(pid_t tid, const SavedState& s) {
  set_sigmask(tid, s.sigmask);
  if (!s.xstate.empty())
    set_xstate(tid, s.xstate);
  else
    set_fpregs(tid, s.fpregs);
  set_gp(tid, s.gp);
}

}  // namespace compel::detail
