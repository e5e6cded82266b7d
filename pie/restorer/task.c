/* The process's own state, set by the main thread before any other thread
 * exists: mm fields, personality, pdeath signal, dumpable, limits, signal
 * actions; and, once every thread is there, shared pending signals and
 * itimers. */
#include "restorer.h"

#include <linux/prctl.h>

void restorer_set_mm(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	const struct ckpt_restorer_process *p = v->proc;
	const struct ckpt_restorer_mm *m = &p->mm;
	struct prctl_mm_map map = {
		.start_code = m->start_code,
		.end_code = m->end_code,
		.start_data = m->start_data,
		.end_data = m->end_data,
		.start_brk = m->start_brk,
		.brk = m->brk,
		.start_stack = m->start_stack,
		.arg_start = m->arg_start,
		.arg_end = m->arg_end,
		.env_start = m->env_start,
		.env_end = m->env_end,
		.auxv = (__u64 *)v->auxv,
		.auxv_size = v->nr_auxv * 8,
		.exe_fd = (uint32_t)m->exe_fd,
	};
	long ret = sys_call5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_MM_MAP, ret, m->start_brk, m->brk);
	/* The personality after the mappings: READ_IMPLIES_EXEC must not add
	 * PROT_EXEC to areas the target mapped without it. */
	ret = sys_call1(__NR_personality, p->personality);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_PERSONALITY, ret, p->personality, 0);
	ret = sys_call2(__NR_prctl, PR_SET_PDEATHSIG, p->pdeath_sig);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_PDEATHSIG, ret, p->pdeath_sig, 0);
	if (p->dumpable >= 0) {
		ret = sys_call2(__NR_prctl, PR_SET_DUMPABLE, p->dumpable);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_DUMPABLE, ret, p->dumpable, 0);
	}
}

void restorer_set_limits(const struct restorer_view *v)
{
	for (uint32_t i = 0; i < v->nr_rlimits; i++) {
		const struct ckpt_restorer_rlimit *r = &v->rlimits[i];
		uint64_t lim[2] = {r->cur, r->max};
		long ret = sys_call4(__NR_prlimit64, 0, r->resource, lim, 0);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_RLIMIT, ret, r->resource, r->max);
	}
}

/* The actions of every signal.  SIGTRAP's is set again after the process's
 * last int3 (restorer_after_trap): a trap that finds SIGTRAP blocked or
 * ignored resets its action to SIG_DFL. */
void restorer_set_signals(const struct restorer_view *v)
{
	for (int signo = 1; signo <= CKPT_RESTORER_NSIG; signo++) {
		if (signo == 9 /* SIGKILL */ || signo == 19 /* SIGSTOP */)
			continue;
		const struct ckpt_k_sigaction *act = &v->sigactions[signo - 1];
		long ret = sys_call4(__NR_rt_sigaction, signo, act, 0, 8);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_SIGACTION, ret, signo, act->handler);
	}
}

/* Queued by the main thread: only the process's leader may queue a signal
 * that says it came from kill() to its own process.  `traps` selects the
 * pending SIGTRAP (queued after the last int3 of the process) or every
 * other signal. */
void restorer_queue_shared_pending(const struct restorer_view *v, int traps)
{
	const struct ckpt_restorer_siginfo *s = v->shared_pending;
	for (uint32_t i = 0; i < v->nr_shared_pending; i++, s++) {
		if ((s->signo == RESTORER_SIGTRAP) != !!traps)
			continue;
		long ret = sys_call3(__NR_rt_sigqueueinfo, v->a->pid, s->signo, s->raw);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_SIGQUEUE, ret, s->signo, 1);
	}
}

void restorer_set_itimers(const struct restorer_view *v)
{
	for (int which = 0; which < 3; which++) {
		const struct ckpt_k_itimerval *t = &v->proc->itimers[which];
		if (!t->value_sec && !t->value_usec)
			continue;
		int64_t val[4] = {(int64_t)t->interval_sec, (int64_t)t->interval_usec, (int64_t)t->value_sec,
				  (int64_t)t->value_usec};
		long ret = sys_call3(__NR_setitimer, which, val, 0);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_ITIMER, ret, which, 0);
	}
}

int restorer_traps_pending(const struct restorer_view *v, const struct ckpt_restorer_thread *t)
{
	const struct ckpt_restorer_siginfo *s = restorer_thread_pending(t);
	for (uint32_t i = 0; i < t->nr_pending; i++)
		if (s[i].signo == RESTORER_SIGTRAP)
			return 1;
	if (t->flags & CKPT_THREAD_MAIN)
		for (uint32_t i = 0; i < v->nr_shared_pending; i++)
			if (v->shared_pending[i].signo == RESTORER_SIGTRAP)
				return 1;
	return 0;
}
