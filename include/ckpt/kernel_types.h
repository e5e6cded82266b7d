/* The kernel's own structures (x86_64) that more than one side of ckpt
 * handles: the host (C++), the parasite and the restorer (freestanding C).
 * Defined once here, with the kernel's layout, and pinned by static_asserts
 * against the kernel's uapi headers in src/restore/args_layout.cpp (host)
 * and below (both sides).  Only fixed-size integer types. */
#ifndef CKPT_KERNEL_TYPES_H
#define CKPT_KERNEL_TYPES_H

#include <stdint.h>

/* struct sigaction of rt_sigaction(2): handler, flags, restorer, mask. */
struct ckpt_k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

/* struct itimerval of setitimer(2). */
struct ckpt_k_itimerval {
	uint64_t interval_sec, interval_usec, value_sec, value_usec;
};

/* stack_t of sigaltstack(2). */
struct ckpt_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	uint32_t pad;
	uint64_t ss_size;
};

/* struct sched_attr of sched_setattr(2), SCHED_ATTR_SIZE_VER1 (glibc 2.36
 * declares neither the struct nor the calls, and <linux/sched/types.h>
 * clashes with <sched.h>). */
struct ckpt_k_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

/* The x86_64 signal frame, as the kernel's rt_sigreturn reads it. */
struct ckpt_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;         /* 64-byte aligned xsave/fxsave area, or 0 */
	uint64_t reserved1[8];
};

struct ckpt_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct ckpt_stack uc_stack;
	struct ckpt_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct ckpt_rt_sigframe {
	uint64_t pretcode;
	struct ckpt_ucontext uc;
	uint8_t info[128];
};

/* uc_flags bits (asm/ucontext.h). */
#define CKPT_UC_FP_XSTATE 0x1
#define CKPT_UC_SIGCONTEXT_SS 0x2
#define CKPT_UC_STRICT_RESTORE_SS 0x4

#define CKPT_SIGINFO_SIZE 128

#ifdef __cplusplus
#define CKPT_STATIC_ASSERT static_assert
#else
#define CKPT_STATIC_ASSERT _Static_assert
#endif

CKPT_STATIC_ASSERT(sizeof(struct ckpt_k_sigaction) == 32, "struct sigaction");
CKPT_STATIC_ASSERT(sizeof(struct ckpt_k_itimerval) == 32, "struct itimerval");
CKPT_STATIC_ASSERT(sizeof(struct ckpt_stack) == 24, "stack_t");
CKPT_STATIC_ASSERT(sizeof(struct ckpt_sigcontext) == 256, "struct sigcontext");
CKPT_STATIC_ASSERT(sizeof(struct ckpt_ucontext) == 304, "struct ucontext");
CKPT_STATIC_ASSERT(sizeof(struct ckpt_rt_sigframe) == 440, "struct rt_sigframe");

#endif
