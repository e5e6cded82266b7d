/* Process-wide state that only the process itself can report: signal
 * actions, interval timers, POSIX timer values, personality, umask, and
 * the prctl state of the process (pdeath signal of the main thread,
 * dumpable, child subreaper, THP disable) and its membarrier
 * registrations. */
#include <linux/prctl.h>

#include "pie.h"
#include "parasite.h"

/* <linux/membarrier.h> of 6.3. */
#define PARASITE_MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
/* <linux/prctl.h> of 6.4. */
#define PARASITE_PR_GET_MEMORY_MERGE 68

long parasite_process_info(struct parasite_args *args, struct parasite_process_info *out)
{
	long r;
	int sig;

	for (sig = 1; sig <= 64; sig++) {
		r = sys_call4(__NR_rt_sigaction, sig, 0, &out->sigactions[sig - 1], 8);
		if (r < 0)
			return PARASITE_FAIL(args, r);
	}
	for (int which = 0; which < 3; which++) {
		r = sys_call2(__NR_getitimer, which, &out->itimers[which]);
		if (r < 0)
			return PARASITE_FAIL(args, r);
	}
	out->personality = (uint32_t)sys_call1(__NR_personality, 0xffffffffUL);
	/* umask(2) can only be read by setting it; put it straight back. */
	out->umask = (uint32_t)sys_call1(__NR_umask, 022);
	sys_call1(__NR_umask, out->umask);
	r = sys_call2(__NR_prctl, PR_GET_PDEATHSIG, &out->pdeath_sig);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	r = sys_call1(__NR_prctl, PR_GET_DUMPABLE);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	out->dumpable = (int32_t)r;
	r = sys_call2(__NR_prctl, PR_GET_CHILD_SUBREAPER, &out->child_subreaper);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	r = sys_call1(__NR_prctl, PR_GET_THP_DISABLE);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	out->thp_disable = (int32_t)r;
	/* The registrations are the mm's; a kernel before 6.3 cannot tell
	 * them (-EINVAL is reported, not fatal). */
	out->membarrier = (int32_t)sys_call3(__NR_membarrier, PARASITE_MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0);
	/* 6.4; -EINVAL before, or without KSM. */
	out->memory_merge = (int32_t)sys_call5(__NR_prctl, PARASITE_PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	return 0;
}

long parasite_timers(struct parasite_timers *t)
{
	if (t->nr > PARASITE_MAX_TIMERS)
		return -E2BIG;
	for (uint32_t i = 0; i < t->nr; i++) {
		struct parasite_timer *tm = &t->timers[i];
		/* struct itimerspec: interval then value, {sec, nsec} each. */
		tm->ret = sys_call2(__NR_timer_gettime, tm->id, &tm->interval_sec);
		if (tm->ret < 0)
			continue;
		long overrun = sys_call1(__NR_timer_getoverrun, tm->id);
		tm->overrun = overrun < 0 ? 0 : (int32_t)overrun;
	}
	return 0;
}
