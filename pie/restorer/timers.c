/* POSIX timers (timer_create(2)): each recreated with its dumped id, clock
 * and notification, then armed with what was left of it.
 *
 * The id is what the program holds (glibc's timer_t is the kernel's id), so
 * it must come back unchanged.  Since Linux 6.15,
 * prctl(PR_TIMER_CREATE_RESTORE_IDS, ON) makes timer_create take the id
 * from *created_timer_id.  Without it, a new process's ids are handed out
 * in increasing order from 0: the timers are created in id order (the array
 * is sorted), and an id below the wanted one is a filler, deleted at once. */
#include "restorer.h"

#include <asm/siginfo.h>

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif

#define RESTORER_EINVAL 22
/* Fillers the fallback may burn before it gives up on a gap in the ids. */
#define RESTORER_MAX_TIMER_FILLERS 65536u

static void fail_timer(struct ckpt_restorer_args *a, enum ckpt_restorer_timer_call call, long ret, int32_t id)
{
	restorer_fail(a, CKPT_STEP_POSIX_TIMER, ret, (uint64_t)(uint32_t)id, call);
}

/* timer_create with the dumped notification; *id is the wanted id in and
 * the created one out. */
static long create_timer(const struct ckpt_restorer_posix_timer *t, int32_t *id)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_value.sival_ptr = (void *)t->sigval;
	ev.sigev_signo = t->signo;
	ev.sigev_notify = t->notify;
	if (t->notify & SIGEV_THREAD_ID)
		ev.sigev_notify_thread_id = t->notify_tid;
	return sys_call3(__NR_timer_create, t->clock_id, &ev, id);
}

static void create_with_ids(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	const struct ckpt_restorer_posix_timer *t = v->timers;
	for (uint32_t i = 0; i < v->nr_timers; i++, t++) {
		int32_t id = t->id;
		long ret = create_timer(t, &id);
		if (ret < 0)
			fail_timer(a, CKPT_TIMER_CREATE, ret, t->id);
		if (id != t->id)
			fail_timer(a, CKPT_TIMER_WRONG_ID, id, t->id);
	}
}

static void create_in_order(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	const struct ckpt_restorer_posix_timer *t = v->timers;
	for (uint32_t i = 0; i < v->nr_timers; i++, t++) {
		for (uint32_t fillers = 0;; fillers++) {
			int32_t id = -1;
			long ret = create_timer(t, &id);
			if (ret < 0)
				fail_timer(a, CKPT_TIMER_CREATE, ret, t->id);
			if (id == t->id)
				break;
			if (id > t->id || fillers == RESTORER_MAX_TIMER_FILLERS)
				fail_timer(a, CKPT_TIMER_WRONG_ID, id, t->id);
			ret = sys_call1(__NR_timer_delete, id);
			if (ret < 0)
				fail_timer(a, CKPT_TIMER_DELETE, ret, id);
		}
	}
}

static void create_timers(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	long ret = sys_call5(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0);
	if (ret == -RESTORER_EINVAL) {
		create_in_order(v);
		return;
	}
	if (ret < 0)
		fail_timer(a, CKPT_TIMER_RESTORE_IDS, ret, -1);
	create_with_ids(v);
	/* The target's own timer_create must pick ids as usual. */
	ret = sys_call5(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0);
	if (ret < 0)
		fail_timer(a, CKPT_TIMER_RESTORE_IDS, ret, -1);
}

/* A relative timer_settime: the time spent restoring is not taken from the
 * timer (like the itimers).  A value of 0 leaves it disarmed. */
static void arm_timers(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	const struct ckpt_restorer_posix_timer *t = v->timers;
	for (uint32_t i = 0; i < v->nr_timers; i++, t++) {
		if (!t->value_sec && !t->value_nsec)
			continue;
		int64_t spec[4] = {(int64_t)t->interval_sec, (int64_t)t->interval_nsec, (int64_t)t->value_sec,
				   (int64_t)t->value_nsec};
		long ret = sys_call4(__NR_timer_settime, t->id, 0, spec, 0);
		if (ret < 0)
			fail_timer(a, CKPT_TIMER_SETTIME, ret, t->id);
	}
}

void restorer_set_posix_timers(const struct restorer_view *v)
{
	if (!v->nr_timers)
		return;
	create_timers(v);
	arm_timers(v);
}
