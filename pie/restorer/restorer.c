/* The restorer blob's entry: ckpt's child jumps here with its stack inside
 * the restorer area and every signal blocked.  From here on nothing of ckpt
 * may be used: the blob unmaps it, builds the target's memory and task state,
 * and ends in rt_sigreturn into the dumped registers.  The order matters:
 *
 *   rseq of ckpt off   (the kernel would write into unmapped memory)
 *   vDSO parked        (inside the area, so unmapping ckpt keeps it)
 *   ckpt unmapped      (everything below and above the area)
 *   target areas mapped, vDSO moved to the dumped place, pages read (AIO),
 *   protections and advice set
 *   mm fields, personality, rlimits, signal actions, thread state
 *   credentials        (last of the privileged steps)
 *   helper fds closed, pending signals queued, itimers armed, POSIX timers
 *   created with their ids and armed, fs base set
 *   int3               (ckpt, the tracer, takes over from here)
 *   rt_sigreturn */
#include "restorer.h"

#include <linux/rseq.h>
#include <asm/prctl.h>

void restorer_fail(struct ckpt_restorer_args *a, uint32_t step, long ret, uint64_t arg0, uint64_t arg1)
{
	a->status.step = step;
	a->status.ret = ret;
	a->status.arg0 = arg0;
	a->status.arg1 = arg1;
	__atomic_store_n(&a->status.phase, CKPT_PHASE_FAILED, __ATOMIC_SEQ_CST);
	for (;;)
		sys_call1(__NR_exit_group, CKPT_RESTORER_EXIT_FAILED);
}

static void unregister_ckpt_rseq(struct ckpt_restorer_args *a)
{
	const struct ckpt_restorer_rseq *r = &a->ckpt_rseq;
	if (!r->ptr)
		return;
	long ret = sys_call4(__NR_rseq, r->ptr, r->len, RSEQ_FLAG_UNREGISTER, r->sig);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_RSEQ_UNREGISTER, ret, r->ptr, r->len);
}

static void close_helper_fds(struct ckpt_restorer_args *a)
{
	long ret = sys_call3(__NR_close_range, a->helper_fd_first, ~0u, 0);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_CLOSE_FDS, ret, a->helper_fd_first, 0);
}

static void set_bases(struct ckpt_restorer_args *a)
{
	long ret = sys_call2(__NR_arch_prctl, ARCH_SET_FS, a->fs_base);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_FS_BASE, ret, a->fs_base, 0);
	ret = sys_call2(__NR_arch_prctl, ARCH_SET_GS, a->gs_base);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_FS_BASE, ret, a->gs_base, 1);
}

BLOB_ENTRY __attribute__((noreturn)) void blob_entry(struct ckpt_restorer_args *a)
{
	if (a->magic != CKPT_RESTORER_ARGS_MAGIC || a->version != CKPT_RESTORER_ARGS_VERSION ||
	    a->size != sizeof(*a))
		restorer_fail(a, CKPT_STEP_VERSION, -22, a->version, a->size);
	__atomic_store_n(&a->status.phase, CKPT_PHASE_BLOB, __ATOMIC_SEQ_CST);

	unregister_ckpt_rseq(a);
	restorer_park_vdso(a);
	restorer_unmap_ckpt(a);
	restorer_map_vmas(a);
	restorer_place_vdso(a);
	restorer_read_pages(a);
	restorer_protect_vmas(a);

	restorer_set_mm(a);
	restorer_set_limits(a);
	restorer_set_signals(a);
	restorer_set_thread(a);
	restorer_set_creds(a);
	close_helper_fds(a);
	restorer_queue_pending(a);
	restorer_set_timers(a);
	restorer_set_posix_timers(a);
	set_bases(a);

	/* ckpt stops us here and follows us through rt_sigreturn to remove this
	 * area afterwards. */
	__atomic_store_n(&a->status.phase, CKPT_PHASE_SIGRETURN, __ATOMIC_SEQ_CST);
	__asm__ volatile("int3" ::: "memory");
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "movl %1, %%eax\n\t"
			 "syscall\n\t"
			 "ud2\n\t"
			 :
			 : "r"(a->sigframe + 8), "i"(__NR_rt_sigreturn)
			 : "memory");
	__builtin_unreachable();
}
