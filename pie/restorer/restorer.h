/* The restorer blob's internals: the steps restorer.c runs in order, each in
 * the file of its kind.  Every step either succeeds or calls
 * restorer_fail(), which records the step and the result in args->status
 * (ckpt turns them into a sentence) and ends the task. */
#ifndef CKPT_RESTORER_H
#define CKPT_RESTORER_H

#include "pie.h"
#include "ckpt/restorer_args.h"

__attribute__((noreturn)) void restorer_fail(struct ckpt_restorer_args *a, uint32_t step, long ret,
					     uint64_t arg0, uint64_t arg1);

/* Arrays that follow the args, by their offsets. */
static inline const struct ckpt_restorer_vma *restorer_vmas(const struct ckpt_restorer_args *a)
{
	return (const struct ckpt_restorer_vma *)((const char *)a + a->vmas_off);
}
static inline const struct ckpt_restorer_run *restorer_runs(const struct ckpt_restorer_args *a)
{
	return (const struct ckpt_restorer_run *)((const char *)a + a->runs_off);
}
static inline const struct ckpt_restorer_siginfo *restorer_pending(const struct ckpt_restorer_args *a)
{
	return (const struct ckpt_restorer_siginfo *)((const char *)a + a->pending_off);
}

/* memory.c */
void restorer_park_vdso(struct ckpt_restorer_args *a);
void restorer_unmap_ckpt(struct ckpt_restorer_args *a);
void restorer_map_vmas(struct ckpt_restorer_args *a);
void restorer_place_vdso(struct ckpt_restorer_args *a);
void restorer_protect_vmas(struct ckpt_restorer_args *a);

/* pages.c */
void restorer_read_pages(struct ckpt_restorer_args *a);

/* task.c */
void restorer_set_mm(struct ckpt_restorer_args *a);
void restorer_set_limits(struct ckpt_restorer_args *a);
void restorer_set_signals(struct ckpt_restorer_args *a);
void restorer_set_thread(struct ckpt_restorer_args *a);
void restorer_queue_pending(struct ckpt_restorer_args *a);
void restorer_set_timers(struct ckpt_restorer_args *a);

/* timers.c */
void restorer_set_posix_timers(struct ckpt_restorer_args *a);

/* creds.c */
void restorer_set_creds(struct ckpt_restorer_args *a);

#endif
