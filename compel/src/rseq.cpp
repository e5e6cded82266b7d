#include "rseq.h"

#include <sys/ptrace.h>
#include <sys/uio.h>

#include <cerrno>

#include "ptrace_util.h"

namespace compel::detail {

bool read_mem(pid_t pid, uint64_t addr, void* buf, size_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

bool write_mem(pid_t pid, uint64_t addr, const void* buf, size_t len) {
  struct iovec local = {const_cast<void*>(buf), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  return ::process_vm_writev(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

RseqConfig rseq_config(pid_t tid) {
  struct __ptrace_rseq_configuration conf = {};
  long r = pt_try(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(conf), reinterpret_cast<uint64_t>(&conf));
  if (r == -EIO || r == -EINVAL) return {};  // kernel without rseq
  if (r < 0) pt(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(conf), reinterpret_cast<uint64_t>(&conf),
                "reading the rseq configuration");
  return {conf.rseq_abi_pointer, conf.rseq_abi_size, conf.signature};
}

void rseq_abort_if_inside(pid_t tid, user_regs_struct& regs) {
  pid_t pid = tid;  // its memory, through the thread itself
  RseqConfig conf = rseq_config(tid);
  if (!conf.ptr) return;
  // struct rseq: cpu_id_start, cpu_id (u32 each), then the rseq_cs pointer.
  constexpr uint64_t kRseqCsOffset = 8;
  uint64_t cs_ptr = 0;
  if (!read_mem(pid, conf.ptr + kRseqCsOffset, &cs_ptr, sizeof(cs_ptr)) || !cs_ptr) return;
  struct {
    uint32_t version, flags;
    uint64_t start_ip, post_commit_offset, abort_ip;
  } cs;
  if (!read_mem(pid, cs_ptr, &cs, sizeof(cs))) return;
  if (regs.rip < cs.start_ip || regs.rip - cs.start_ip >= cs.post_commit_offset) return;
  // The kernel only jumps to a handler preceded by the registered signature.
  uint32_t sig = 0;
  if (!read_mem(pid, cs.abort_ip - sizeof(sig), &sig, sizeof(sig)) || sig != conf.sig) return;
  uint64_t zero = 0;
  if (!write_mem(pid, conf.ptr + kRseqCsOffset, &zero, sizeof(zero))) return;
  regs.rip = cs.abort_ip;
}

}  // namespace compel::detail
