// Probes of the ptrace interfaces compel uses to freeze and inspect a tree.
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <cstdint>

#include "check/child.h"
#include "check/probe.h"
#include "ckpt/error.h"

namespace ckpt::check {
namespace {

long ptrace_call(int request, pid_t pid, unsigned long addr, unsigned long data) {
  return ptrace(static_cast<enum __ptrace_request>(request), pid, addr, data);
}

// A sleeping child, seized and stopped in PTRACE_EVENT_STOP; killed and
// reaped (by Child) when the probe is done.
class SeizedChild {
 public:
  explicit SeizedChild(unsigned long options = 0) {
    pid_t pid = child_.pid();
    if (ptrace_call(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL | options) != 0)
      throw sys_error(format("PTRACE_SEIZE of child %d failed", pid));
    if (ptrace_call(PTRACE_INTERRUPT, pid, 0, 0) != 0)
      throw sys_error(format("PTRACE_INTERRUPT of child %d failed", pid));
    int status = wait_status(pid, __WALL, kChildWait, "the ptrace interrupt stop");
    if (!WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP)
      throw Error(format("child %d: waitpid reported status 0x%x instead of PTRACE_EVENT_STOP",
                         pid, status));
  }
  pid_t pid() const { return child_.pid(); }

 private:
  Child child_;
};

}  // namespace

std::string probe_ptrace_seize() {
  SeizedChild child;
  struct user_regs_struct regs;
  if (ptrace_call(PTRACE_GETREGS, child.pid(), 0, reinterpret_cast<unsigned long>(&regs)) != 0)
    throw sys_error("PTRACE_GETREGS on the stopped child failed");
  if (ptrace_call(PTRACE_DETACH, child.pid(), 0, 0) != 0)
    throw sys_error("PTRACE_DETACH from the stopped child failed");
  return {};
}

std::string probe_ptrace_xstate() {
  SeizedChild child;
  alignas(64) static uint8_t area[16384];
  struct iovec iov = {area, sizeof(area)};
  if (ptrace_call(PTRACE_GETREGSET, child.pid(), NT_X86_XSTATE, reinterpret_cast<unsigned long>(&iov)) != 0)
    throw sys_error("PTRACE_GETREGSET NT_X86_XSTATE failed");
  // 512 bytes of legacy FXSAVE area and the 64-byte XSAVE header at least.
  if (iov.iov_len < 576)
    throw Error(format("PTRACE_GETREGSET NT_X86_XSTATE returned only %zu bytes", iov.iov_len));
  return format("xsave area of %zu bytes", iov.iov_len);
}

std::string probe_ptrace_rseq() {
  SeizedChild child;
  struct __ptrace_rseq_configuration conf = {};
  long n = ptrace_call(PTRACE_GET_RSEQ_CONFIGURATION, child.pid(), sizeof(conf),
                       reinterpret_cast<unsigned long>(&conf));
  if (n < 0) throw sys_error("PTRACE_GET_RSEQ_CONFIGURATION failed");
  if (conf.rseq_abi_pointer == 0) return "the child has no rseq area registered";
  return format("rseq area at 0x%llx, %u bytes, signature 0x%x",
                static_cast<unsigned long long>(conf.rseq_abi_pointer), conf.rseq_abi_size,
                conf.signature);
}

std::string probe_ptrace_suspend_seccomp() {
  SeizedChild child;
  if (ptrace_call(PTRACE_SETOPTIONS, child.pid(), 0, PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP) != 0)
    throw sys_error("PTRACE_SETOPTIONS with PTRACE_O_SUSPEND_SECCOMP failed");
  return {};
}

}  // namespace ckpt::check
