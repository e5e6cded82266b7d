/* The restorer blob's entry: ckpt's child jumps here with its stack inside
 * the restorer area and every signal blocked.  From here on nothing of ckpt
 * may be used: the blob unmaps it, builds the target's memory and task state,
 * starts the other threads, and every thread ends in rt_sigreturn into its
 * dumped registers.  The order matters:
 *
 *   args read and checked (args.c)
 *   rseq of ckpt off   (the kernel would write into unmapped memory)
 *   vDSO parked        (inside the area, so unmapping ckpt keeps it)
 *   ckpt unmapped      (everything below and above the area)
 *   target areas mapped, their own memory policies bound (mempolicy.c),
 *   vDSO moved to the dumped place, pages read,
 *   guard pages installed, protections and advice set
 *   mm fields, personality, rlimits, signal actions  (the process's)
 *   the other threads created with their tids (threads.c); each then sets
 *   its own state, as the main thread does:
 *     tid address, robust list, rseq, name, credentials (last of the
 *     privileged steps), timer slack, speculation controls and pdeath
 *     signal (after the credentials, whose change clears it), memory
 *     policy, pending signals, [main: helper fds closed, shared
 *     pending signals, itimers, POSIX timers], fs/gs base
 *   int3               (ckpt, the tracer, takes over from here; the main
 *                      thread's is let go last in its process)
 *   [main: SIGTRAP's action again], a pending SIGTRAP (threads.c)
 *   rt_sigreturn */
#include "restorer.h"

#include <linux/rseq.h>

static struct restorer_view view;

void restorer_fail(struct ckpt_restorer_args *a, uint32_t step, long ret, uint64_t arg0, uint64_t arg1)
{
	/* The first thread to fail tells; the others only end. */
	uint32_t blob = CKPT_PHASE_BLOB;
	if (__atomic_compare_exchange_n(&a->status.phase, &blob, CKPT_PHASE_FAILED, 0, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST) ||
	    blob == CKPT_PHASE_CHILD) {
		a->status.step = step;
		a->status.ret = ret;
		a->status.arg0 = arg0;
		a->status.arg1 = arg1;
		a->status.tid = (int32_t)sys_call0(__NR_gettid);
		__atomic_store_n(&a->status.phase, CKPT_PHASE_FAILED, __ATOMIC_SEQ_CST);
	}
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

BLOB_ENTRY __attribute__((noreturn)) void blob_entry(struct ckpt_restorer_args *a)
{
	restorer_read_args(a, &view);
	__atomic_store_n(&a->status.phase, CKPT_PHASE_BLOB, __ATOMIC_SEQ_CST);
	const struct restorer_view *v = &view;

	unregister_ckpt_rseq(a);
	restorer_park_vdso(v);
	restorer_unmap_ckpt(v);
	restorer_map_vmas(v);
	restorer_bind_vmas(v);
	restorer_place_vdso(v);
	restorer_read_pages(v);
	restorer_install_guards(v);
	restorer_protect_vmas(v);

	restorer_set_mm(v);
	restorer_set_limits(v);
	restorer_set_signals(v);
	restorer_create_threads(v);
	restorer_finish_thread(v, restorer_next_thread(a, 0));
}
