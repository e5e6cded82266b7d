// The rt_sigframe that rt_sigreturn consumes: registers, FPU/xstate, blocked
// mask and alternate stack, laid out as the x86_64 kernel reads them.  Built
// by the restore (a restored thread's frame) and by compel (the cure frame
// of a borrowed thread, compel/src/cure.h).  Header-only and pure so that
// the unit tests check the layout and the xstate trailer byte by byte.
#pragma once

#include <sys/syscall.h>
#include <sys/user.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ckpt/error.h"
#include "ckpt/restorer_args.h"
#include "ckpt/syscall_restart.h"

namespace ckpt {

// asm/sigcontext.h, which cannot be included next to glibc's <signal.h>.
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853u;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845u;
inline constexpr size_t kFxsaveSize = 512;
inline constexpr size_t kXsaveHeaderSize = 64;
inline constexpr size_t kSwReservedOffset = 464;  // struct _fpx_sw_bytes in the fxsave area
inline constexpr int kSsDisable = 2;
// Neither 0, SS_ONSTACK nor SS_DISABLE: sigaltstack refuses it, and
// rt_sigreturn ignores that refusal, so the alternate stack stays as it is.
inline constexpr int kSsKeep = 3;

struct FrameInput {
  user_regs_struct regs{};
  std::vector<uint8_t> xsave;   // NT_X86_XSTATE (standard format), or empty
  std::vector<uint8_t> fxsave;  // 512-byte legacy area when there is no xsave
  uint64_t blocked = 0;
  bool has_altstack = false;
  bool keep_altstack = false;  // leave the task's alternate stack alone
  uint64_t altstack_sp = 0, altstack_size = 0;
  int32_t altstack_flags = 0;
};

// Syscalls that the kernel restarts through its restart block
// (-ERESTART_RESTARTBLOCK) and that may simply be issued again with their
// registers: a sleep whose remaining time the kernel wrote back where the
// caller reads it from again (nanosleep(&ts, &ts), as glibc's sleep() and
// C++'s sleep_for() call it), else the whole timeout again, which is never
// shorter than what was left.  A wait on a futex or in poll() with a timeout
// likewise waits its timeout again: a wake-up is no more lost than in a
// spurious return, and no EINTR appears that the program never saw before.
inline bool restartable_from_scratch(int64_t nr) {
  return nr == SYS_nanosleep || nr == SYS_clock_nanosleep || nr == SYS_futex || nr == SYS_poll;
}

// A task stopped inside an interrupted syscall shows the kernel's restart
// codes in ax; a signal delivery would have turned them into a restart (ip
// back onto the syscall instruction) or -EINTR, but rt_sigreturn does no
// such thing (it sets orig_ax to -1), so the frame must carry the outcome.
// Idempotent: adjusted registers hold no restart code any more.
inline void settle_interrupted_syscall(user_regs_struct& r) {
  constexpr int64_t kRestartSys = -512, kRestartNoIntr = -513, kRestartNoHand = -514, kRestartBlock = -516;
  if (int64_t(r.orig_rax) < 0) return;
  int64_t ax = int64_t(r.rax);
  bool again = ax == kRestartSys || ax == kRestartNoIntr || ax == kRestartNoHand ||
               (ax == kRestartBlock && restartable_from_scratch(int64_t(r.orig_rax)));
  if (again) {
    r.rax = r.orig_rax;
    r.rip -= 2;  // back onto "syscall" (0f 05)
  } else if (ax == kRestartBlock) {
    // The restart block of any other syscall lives in the dead task's
    // kernel state; the caller gets EINTR, as after a handled signal.
    r.rax = uint64_t(-4);
  }
}

// A wait ended by the freeze alone (see ckpt/syscall_restart.h) is issued
// again.
inline void restart_eintr_of_the_freeze(user_regs_struct& r, uint64_t deliverable) {
  if (!ckpt_eintr_of_the_freeze(int64_t(r.orig_rax), int64_t(r.rax), deliverable)) return;
  r.rax = r.orig_rax;
  r.rip -= 2;
}

inline uint64_t align_up64(uint64_t v) { return (v + 63) & ~uint64_t(63); }

// Bytes needed at a 64-byte aligned address for the frame and its FPU area.
inline size_t sigframe_bytes(const FrameInput& in) {
  size_t fp = !in.xsave.empty() ? in.xsave.size() + sizeof(uint32_t) : !in.fxsave.empty() ? kFxsaveSize : 0;
  return align_up64(sizeof(ckpt_rt_sigframe)) + fp;
}

// Writes the frame into buf, which will sit at address `base` (64-byte
// aligned) in the task.  Returns the address of the frame (== base).
inline uint64_t build_sigframe(uint8_t* buf, uint64_t base, const FrameInput& in) {
  if (base % 64) throw Error("the signal frame must be 64-byte aligned");
  std::memset(buf, 0, sigframe_bytes(in));
  ckpt_rt_sigframe frame{};
  const user_regs_struct& r = in.regs;
  ckpt_sigcontext& sc = frame.uc.uc_mcontext;
  sc.r8 = r.r8; sc.r9 = r.r9; sc.r10 = r.r10; sc.r11 = r.r11;
  sc.r12 = r.r12; sc.r13 = r.r13; sc.r14 = r.r14; sc.r15 = r.r15;
  sc.di = r.rdi; sc.si = r.rsi; sc.bp = r.rbp; sc.bx = r.rbx;
  sc.dx = r.rdx; sc.ax = r.rax; sc.cx = r.rcx; sc.sp = r.rsp;
  sc.ip = r.rip; sc.flags = r.eflags;
  sc.cs = uint16_t(r.cs); sc.ss = uint16_t(r.ss);
  frame.uc.uc_flags = CKPT_UC_SIGCONTEXT_SS | CKPT_UC_STRICT_RESTORE_SS;
  frame.uc.uc_sigmask = in.blocked;
  if (in.keep_altstack) {
    frame.uc.uc_stack.ss_flags = kSsKeep;
  } else if (in.has_altstack) {
    frame.uc.uc_stack.ss_sp = in.altstack_sp;
    frame.uc.uc_stack.ss_size = in.altstack_size;
    // SS_ONSTACK is how the dump sees a stack in use; setting takes it as "enabled".
    frame.uc.uc_stack.ss_flags = in.altstack_flags;
  } else {
    frame.uc.uc_stack.ss_flags = kSsDisable;
  }

  uint64_t fp_off = align_up64(sizeof(ckpt_rt_sigframe));
  uint8_t* fp = buf + fp_off;
  if (!in.xsave.empty()) {
    size_t size = in.xsave.size();
    if (size < kFxsaveSize + kXsaveHeaderSize) throw Error("the dumped xsave area is too small");
    std::memcpy(fp, in.xsave.data(), size);
    // The software-reserved bytes tell rt_sigreturn this is a full xstate
    // area of `size` bytes, and the second magic closes it.
    uint32_t magic1;
    std::memcpy(&magic1, fp + kSwReservedOffset, 4);
    uint64_t xfeatures;
    if (magic1 == kFpXstateMagic1) {
      std::memcpy(&xfeatures, fp + kSwReservedOffset + 8, 8);
    } else {
      std::memcpy(&xfeatures, fp + kFxsaveSize, 8);  // XSTATE_BV of the header
      xfeatures |= 3;                                // x87 and SSE always
    }
    uint32_t sw[12] = {};
    sw[0] = kFpXstateMagic1;
    sw[1] = uint32_t(size + sizeof(uint32_t));  // extended_size
    std::memcpy(&sw[2], &xfeatures, 8);
    sw[4] = uint32_t(size);  // xstate_size
    std::memcpy(fp + kSwReservedOffset, sw, sizeof(sw));
    uint32_t magic2 = kFpXstateMagic2;
    std::memcpy(fp + size, &magic2, 4);
    frame.uc.uc_flags |= CKPT_UC_FP_XSTATE;
    sc.fpstate = base + fp_off;
  } else if (!in.fxsave.empty()) {
    if (in.fxsave.size() != kFxsaveSize) throw Error("the dumped fxsave area is not 512 bytes");
    std::memcpy(fp, in.fxsave.data(), kFxsaveSize);
    std::memset(fp + kSwReservedOffset, 0, 48);  // magic1 0: legacy area only
    sc.fpstate = base + fp_off;
  }
  std::memcpy(buf, &frame, sizeof(frame));
  return base;
}

}  // namespace ckpt
