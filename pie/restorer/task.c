/* Task state other than memory: mm fields, personality, limits, signal
 * actions, thread registrations, pending signals and timers. */
#include "restorer.h"

#include <linux/prctl.h>

void restorer_set_mm(struct ckpt_restorer_args *a)
{
	const struct ckpt_restorer_mm *m = &a->mm;
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
		.auxv = (__u64 *)m->auxv,
		.auxv_size = m->auxv_words * 8,
		.exe_fd = (uint32_t)m->exe_fd,
	};
	long ret = sys_call5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_MM_MAP, ret, m->start_brk, m->brk);
	/* The personality after the mappings: READ_IMPLIES_EXEC must not add
	 * PROT_EXEC to areas the target mapped without it. */
	ret = sys_call1(__NR_personality, a->personality);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_PERSONALITY, ret, a->personality, 0);
}

void restorer_set_limits(struct ckpt_restorer_args *a)
{
	for (uint32_t i = 0; i < a->nr_rlimits && i < CKPT_RESTORER_MAX_RLIMITS; i++) {
		const struct ckpt_restorer_rlimit *r = &a->rlimits[i];
		uint64_t lim[2] = {r->cur, r->max};
		long ret = sys_call4(__NR_prlimit64, 0, r->resource, lim, 0);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_RLIMIT, ret, r->resource, r->max);
	}
}

void restorer_set_signals(struct ckpt_restorer_args *a)
{
	for (int signo = 1; signo <= CKPT_RESTORER_NSIG; signo++) {
		if (signo == 9 /* SIGKILL */ || signo == 19 /* SIGSTOP */)
			continue;
		const struct ckpt_restorer_sigaction *act = &a->sigactions[signo - 1];
		long ret = sys_call4(__NR_rt_sigaction, signo, act, 0, 8);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_SIGACTION, ret, signo, act->handler);
	}
}

void restorer_set_thread(struct ckpt_restorer_args *a)
{
	sys_call1(__NR_set_tid_address, a->clear_child_tid);
	/* No recorded list: clear ckpt's, which pointed into unmapped memory
	 * (or, worse, into the target's). */
	long ret = sys_call2(__NR_set_robust_list, a->robust_list, a->robust_list_len ? a->robust_list_len : 24);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_ROBUST_LIST, ret, a->robust_list, a->robust_list_len);
	if (a->rseq.ptr) {
		ret = sys_call4(__NR_rseq, a->rseq.ptr, a->rseq.len, 0, a->rseq.sig);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_RSEQ_REGISTER, ret, a->rseq.ptr, a->rseq.len);
	}
	ret = sys_call2(__NR_prctl, PR_SET_PDEATHSIG, a->pdeath_sig);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_PDEATHSIG, ret, a->pdeath_sig, 0);
	if (a->dumpable >= 0) {
		ret = sys_call2(__NR_prctl, PR_SET_DUMPABLE, a->dumpable);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_DUMPABLE, ret, a->dumpable, 0);
	}
}

void restorer_queue_pending(struct ckpt_restorer_args *a)
{
	long pid = sys_call0(__NR_getpid);
	const struct ckpt_restorer_siginfo *s = restorer_pending(a);
	for (uint32_t i = 0; i < a->nr_pending; i++, s++) {
		long ret = s->shared ? sys_call3(__NR_rt_sigqueueinfo, pid, s->signo, s->raw)
				     : sys_call4(__NR_rt_tgsigqueueinfo, pid, pid, s->signo, s->raw);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_SIGQUEUE, ret, s->signo, s->shared);
	}
}

/* Armed last, so that the time spent restoring is not taken from them. */
void restorer_set_timers(struct ckpt_restorer_args *a)
{
	for (int which = 0; which < 3; which++) {
		const struct ckpt_restorer_itimer *t = &a->itimers[which];
		if (!t->value_sec && !t->value_usec)
			continue;
		int64_t val[4] = {(int64_t)t->interval_sec, (int64_t)t->interval_usec, (int64_t)t->value_sec,
				  (int64_t)t->value_usec};
		long ret = sys_call3(__NR_setitimer, which, val, 0);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_ITIMER, ret, which, 0);
	}
}
