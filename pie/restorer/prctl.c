/* The prctl state Linux keeps per thread (timer slack, speculation
 * controls, TSC and CPUID faulting, machine-check kill policy, parent-death
 * signal), set by each thread for itself
 * once its credentials are in place: a change of credentials clears the
 * pdeath signal, so it comes last.  The scheduling of a thread is not set
 * here but by ckpt from outside, at the very end (src/task/sched.h): a
 * real-time thread must not compete with the rest of the restore. */
#include "restorer.h"

#include <linux/prctl.h>

static const struct ckpt_restorer_thread_prctl *find(const struct restorer_view *v, int32_t tid)
{
	for (uint32_t i = 0; i < v->nr_thread_prctl; i++)
		if (v->thread_prctl[i].tid == tid)
			return &v->thread_prctl[i];
	return 0;
}

/* Each control the thread could set for itself (PR_SPEC_PRCTL at dump) is
 * set if it differs, and must then read as it did. */
static void set_speculation(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread_prctl *p)
{
	for (int kind = 0; kind < 3; kind++) {
		if (!p->spec_set[kind])
			continue;
		long cur = sys_call5(__NR_prctl, PR_GET_SPECULATION_CTRL, kind, 0, 0, 0);
		if (cur == (long)p->spec_want[kind])
			continue;
		long ret = sys_call5(__NR_prctl, PR_SET_SPECULATION_CTRL, kind, p->spec_set[kind], 0, 0);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_SPECULATION, ret, kind, p->spec_set[kind]);
		cur = sys_call5(__NR_prctl, PR_GET_SPECULATION_CTRL, kind, 0, 0, 0);
		if (cur != (long)p->spec_want[kind])
			restorer_fail(a, CKPT_STEP_SPECULATION, cur, kind, p->spec_set[kind]);
	}
}

void restorer_set_thread_prctl(const struct restorer_view *v, const struct ckpt_restorer_thread *t)
{
	struct ckpt_restorer_args *a = v->a;
	const struct ckpt_restorer_thread_prctl *p = find(v, t->tid);
	if (!p)
		return; /* (ckpt gives every thread one) */
	if (p->timer_slack_ns) {
		long ret = sys_call2(__NR_prctl, PR_SET_TIMERSLACK, p->timer_slack_ns);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_TIMER_SLACK, ret, (uint64_t)t->tid, p->timer_slack_ns);
	}
	set_speculation(a, p);
	/* After these the thread's RDTSC or CPUID faults: the blob has
	 * neither before rt_sigreturn. */
	if (p->tsc) {
		long ret = sys_call2(__NR_prctl, PR_SET_TSC, p->tsc);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_THREAD_PRCTL, ret, PR_SET_TSC, (uint64_t)p->tsc);
	}
	if (p->mce_kill >= 0) {
		long ret = sys_call5(__NR_prctl, PR_MCE_KILL, PR_MCE_KILL_SET, p->mce_kill, 0, 0);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_THREAD_PRCTL, ret, PR_MCE_KILL, (uint64_t)p->mce_kill);
	}
	if (p->cpuid >= 0) {
		long ret = sys_call2(__NR_arch_prctl, 0x1012 /* ARCH_SET_CPUID */, p->cpuid);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_THREAD_PRCTL, ret, 0x1012, (uint64_t)p->cpuid);
	}
	/* Always: ckpt's code set SIGKILL in the main thread, to die with its
	 * parent while it restored. */
	long ret = sys_call2(__NR_prctl, PR_SET_PDEATHSIG, p->pdeath_sig);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_PDEATHSIG, ret, (uint64_t)p->pdeath_sig, 0);
}
