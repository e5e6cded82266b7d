/* The restorer blob's internals: the steps restorer.c runs in order, each in
 * the file of its kind.  Every step either succeeds or calls
 * restorer_fail(), which records the step and the result in args->status
 * (ckpt turns them into a sentence) and ends the task.
 *
 * The steps read the sections through one view, filled once by
 * restorer_read_args() (args.c) from the header and sections ckpt built. */
#ifndef CKPT_RESTORER_H
#define CKPT_RESTORER_H

#include "pie.h"
#include "ckpt/restorer_args.h"

struct restorer_view {
	struct ckpt_restorer_args *a;
	const struct ckpt_restorer_process *proc;
	const uint64_t *auxv;
	uint32_t nr_auxv;
	uint32_t nr_vdso;
	struct ckpt_restorer_vdso_part *vdso;
	const uint8_t *vdso_proxy;
	uint64_t vdso_proxy_size;
	const struct ckpt_restorer_vma *vmas;
	uint32_t nr_vmas;
	uint32_t nr_runs;
	const struct ckpt_restorer_run *runs;
	const struct ckpt_restorer_rlimit *rlimits;
	uint32_t nr_rlimits;
	uint32_t nr_shared_pending;
	const struct ckpt_k_sigaction *sigactions; /* CKPT_RESTORER_NSIG of them */
	const struct ckpt_restorer_siginfo *shared_pending;
	const struct ckpt_restorer_posix_timer *timers;
	uint32_t nr_timers;
	uint32_t nr_seccomp;      /* CKPT_SECTION_SECCOMP sections (threads with filters) */
	uint32_t nr_page_files;
	const struct ckpt_restorer_page_file *page_files;
	uint32_t nr_thread_prctl;
	const struct ckpt_restorer_thread_prctl *thread_prctl;
	uint32_t nr_guards;
	const struct ckpt_restorer_range *guards;
	uint32_t nr_keep;
	const struct ckpt_restorer_range *keep;
	uint32_t nr_vma_mempolicy;
	const struct ckpt_restorer_vma_mempolicy *vma_mempolicy;
	uint32_t nr_thread_mempolicy;
	const struct ckpt_restorer_thread_mempolicy *thread_mempolicy;
};

__attribute__((noreturn)) void restorer_fail(struct ckpt_restorer_args *a, uint32_t step, long ret,
					     uint64_t arg0, uint64_t arg1);

/* args.c: checks the header and every section's bounds and fills v;
 * restorer_next_thread walks the THREAD sections (NULL: from the first). */
void restorer_read_args(struct ckpt_restorer_args *a, struct restorer_view *v);
struct ckpt_restorer_thread *restorer_next_thread(struct ckpt_restorer_args *a, struct ckpt_restorer_thread *prev);
/* The thread's groups and pending signals, which follow its struct. */
const uint32_t *restorer_thread_groups(const struct ckpt_restorer_thread *t);
const struct ckpt_restorer_siginfo *restorer_thread_pending(const struct ckpt_restorer_thread *t);
/* The thread's seccomp filters (its CKPT_SECTION_SECCOMP), NULL if none. */
const struct ckpt_restorer_seccomp *restorer_thread_seccomp(const struct restorer_view *v, int32_t tid);

/* memory.c */
void restorer_park_vdso(const struct restorer_view *v);
void restorer_unmap_ckpt(const struct restorer_view *v);
void restorer_map_vmas(const struct restorer_view *v);
void restorer_place_vdso(const struct restorer_view *v);
void restorer_protect_vmas(const struct restorer_view *v);
void restorer_install_guards(const struct restorer_view *v);

/* mempolicy.c: the areas' own NUMA policies (main thread, after mapping
 * them), each thread's own (by itself). */
void restorer_bind_vmas(const struct restorer_view *v);
void restorer_set_thread_mempolicy(const struct restorer_view *v, const struct ckpt_restorer_thread *t);

/* pages.c */
void restorer_read_pages(const struct restorer_view *v);

/* task.c: the process's state, set by the main thread before any other
 * thread exists. */
void restorer_set_mm(const struct restorer_view *v);
void restorer_set_limits(const struct restorer_view *v);
void restorer_set_signals(const struct restorer_view *v);
#define RESTORER_SIGTRAP 5
void restorer_queue_shared_pending(const struct restorer_view *v, int traps);
/* Whether thread t (the main one: or its process) has a SIGTRAP to queue
 * after its int3. */
int restorer_traps_pending(const struct restorer_view *v, const struct ckpt_restorer_thread *t);
void restorer_set_itimers(const struct restorer_view *v);

/* threads.c: the other threads, with their tids; every thread (the main
 * one too) ends in restorer_finish_thread. */
void restorer_create_threads(const struct restorer_view *v);
__attribute__((noreturn)) void restorer_finish_thread(const struct restorer_view *v, struct ckpt_restorer_thread *t);

/* timers.c */
void restorer_set_posix_timers(const struct restorer_view *v);

/* prctl.c: the calling thread's timer slack, speculation controls and
 * parent-death signal, after its credentials. */
void restorer_set_thread_prctl(const struct restorer_view *v, const struct ckpt_restorer_thread *t);

/* creds.c: the calling thread's credentials. */
void restorer_set_creds(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread *t);

#endif
