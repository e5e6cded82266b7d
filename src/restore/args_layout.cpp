// The layout of the structures shared with the blob and the kernel, checked
// at compile time against the kernel's own headers (this file includes no
// glibc signal header, so <asm/...> definitions do not clash).
#include <asm/sigcontext.h>
#include <asm/signal.h>
#include <asm/ucontext.h>
#include <linux/filter.h>
#include <linux/prctl.h>

#include <cstddef>

#include "ckpt/restorer_args.h"

static_assert(sizeof(ckpt_sigcontext) == sizeof(struct sigcontext_64), "sigcontext size");
static_assert(offsetof(ckpt_sigcontext, r8) == offsetof(struct sigcontext_64, r8));
static_assert(offsetof(ckpt_sigcontext, di) == offsetof(struct sigcontext_64, di));
static_assert(offsetof(ckpt_sigcontext, ip) == offsetof(struct sigcontext_64, ip));
static_assert(offsetof(ckpt_sigcontext, flags) == offsetof(struct sigcontext_64, flags));
static_assert(offsetof(ckpt_sigcontext, cs) == offsetof(struct sigcontext_64, cs));
static_assert(offsetof(ckpt_sigcontext, ss) == offsetof(struct sigcontext_64, ss));
static_assert(offsetof(ckpt_sigcontext, fpstate) == offsetof(struct sigcontext_64, fpstate));
static_assert(sizeof(ckpt_stack) == sizeof(stack_t), "stack_t size");
static_assert(offsetof(ckpt_stack, ss_flags) == offsetof(stack_t, ss_flags));
static_assert(offsetof(ckpt_stack, ss_size) == offsetof(stack_t, ss_size));
static_assert(offsetof(ckpt_ucontext, uc_stack) == offsetof(struct ucontext, uc_stack));
static_assert(offsetof(ckpt_ucontext, uc_mcontext) == offsetof(struct ucontext, uc_mcontext));
static_assert(offsetof(ckpt_ucontext, uc_sigmask) == offsetof(struct ucontext, uc_sigmask));
static_assert(sizeof(ckpt_ucontext) == sizeof(struct ucontext), "ucontext size");
// struct rt_sigframe of arch/x86/include/asm/sigframe.h: pretcode, uc, info.
static_assert(offsetof(ckpt_rt_sigframe, uc) == 8);
static_assert(offsetof(ckpt_rt_sigframe, info) == 8 + sizeof(struct ucontext));
static_assert(sizeof(ckpt_rt_sigframe) == 8 + sizeof(struct ucontext) + 128);
static_assert(CKPT_UC_FP_XSTATE == UC_FP_XSTATE && CKPT_UC_SIGCONTEXT_SS == UC_SIGCONTEXT_SS &&
              CKPT_UC_STRICT_RESTORE_SS == UC_STRICT_RESTORE_SS);
static_assert(sizeof(struct _fpx_sw_bytes) == 48 && offsetof(struct _fpstate_64, sw_reserved) == 464);

// The kernel's struct sigaction, itimerval and siginfo for x86_64.
static_assert(sizeof(ckpt_k_sigaction) == sizeof(struct sigaction));
static_assert(offsetof(ckpt_k_sigaction, flags) == offsetof(struct sigaction, sa_flags));
static_assert(offsetof(ckpt_k_sigaction, restorer) == offsetof(struct sigaction, sa_restorer));
static_assert(offsetof(ckpt_k_sigaction, mask) == offsetof(struct sigaction, sa_mask));
static_assert(sizeof(ckpt_restorer_siginfo) == 8 + CKPT_SIGINFO_SIZE);
static_assert(sizeof(struct sigaltstack) == sizeof(ckpt_stack));

// The header and sections: fixed-size members, 8-byte multiples (each
// section's payload is 8-aligned), sizes that change only with the version.
static_assert(sizeof(ckpt_restorer_section) == 16);
static_assert(sizeof(ckpt_restorer_vma) == 72);
static_assert(sizeof(ckpt_restorer_run) == 32 && offsetof(ckpt_restorer_run, flags) == 24 &&
              offsetof(ckpt_restorer_run, fd) == 28);
static_assert(sizeof(ckpt_restorer_vdso_part) == 32);
static_assert(sizeof(ckpt_restorer_page_file) == 16);
static_assert(sizeof(ckpt_restorer_range) == 16);
static_assert(sizeof(ckpt_restorer_posix_timer) == 64);
static_assert(sizeof(ckpt_restorer_rlimit) == 24);
static_assert(sizeof(ckpt_restorer_status) == 72 + CKPT_RESTORER_MESSAGE_SIZE);
static_assert(sizeof(ckpt_restorer_mm) == 11 * 8 + 8);
static_assert(sizeof(ckpt_restorer_creds) % 8 == 0 && sizeof(ckpt_restorer_thread) % 8 == 0);
static_assert(sizeof(ckpt_restorer_process) % 8 == 0);
static_assert(offsetof(ckpt_restorer_thread, phase) == 0);
static_assert(offsetof(ckpt_restorer_args, status) == 32);
static_assert(sizeof(ckpt_restorer_seccomp) == 8 && sizeof(ckpt_restorer_seccomp_filter) == 8);
static_assert(sizeof(ckpt_restorer_thread_prctl) == 56);
static_assert(sizeof(ckpt_restorer_vma_mempolicy) == 16 + sizeof(ckpt_mempolicy) &&
              sizeof(ckpt_restorer_thread_mempolicy) == 8 + sizeof(ckpt_mempolicy));
static_assert(PR_SPEC_STORE_BYPASS == 0 && PR_SPEC_INDIRECT_BRANCH == 1 && PR_SPEC_L1D_FLUSH == 2,
              "the speculation kinds index spec_want and spec_set");
static_assert(sizeof(ckpt_sock_filter) == sizeof(struct sock_filter));
static_assert(offsetof(ckpt_sock_filter, jf) == offsetof(struct sock_filter, jf));
static_assert(offsetof(ckpt_sock_filter, k) == offsetof(struct sock_filter, k));
static_assert(CKPT_RESTORER_ARGS_VERSION == 7 && sizeof(ckpt_restorer_args) == 1176 &&
                  sizeof(ckpt_restorer_process) == 256 && sizeof(ckpt_restorer_thread) == 200,
              "the args changed: bump CKPT_RESTORER_ARGS_VERSION and these sizes together");
