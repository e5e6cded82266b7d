/* Threads.  The main thread, once the process's memory and shared state are
 * in place, creates every other thread with its dumped tid (clone3 with
 * set_tid) on a stack of its own in the area.  Each thread, the main one
 * too, then sets what Linux keeps per thread and ends in rt_sigreturn into
 * its own registers, mask and alternate stack; ckpt holds each one there
 * until the whole tree is in place.
 *
 * The new threads inherit the main thread's credentials (still ckpt's) and
 * its mask (everything blocked), so no signal reaches them before their
 * frame says so. */
#include "restorer.h"

#include <asm/prctl.h>
#include <linux/prctl.h>
#include <linux/sched.h>

#define RESTORER_EEXIST 17
/* A tid may still be held, for a moment, by a task that is going away: one
 * of the blob's exiting page readers, or a thread of a process that was
 * just reaped (the kernel frees an exiting thread's pid after the process's
 * end has been reported).  ckpt checked before that no live task has it:
 * EEXIST is tried again, yielding first, then sleeping 1 ms at a time, for
 * up to about 2 s. */
#define RESTORER_TID_YIELDS 1000
#define RESTORER_TID_SLEEPS 2000

static void set_thread_state(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread *t)
{
	sys_call1(__NR_set_tid_address, t->clear_child_tid);
	/* No recorded list: clear ckpt's, which pointed into unmapped memory
	 * (or, worse, into the target's). */
	long ret = sys_call2(__NR_set_robust_list, t->robust_list, t->robust_list_len ? t->robust_list_len : 24);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_ROBUST_LIST, ret, t->robust_list, t->robust_list_len);
	if (t->rseq.ptr) {
		ret = sys_call4(__NR_rseq, t->rseq.ptr, t->rseq.len, 0, t->rseq.sig);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_RSEQ_REGISTER, ret, t->rseq.ptr, t->rseq.len);
	}
	if (t->comm[0]) {
		ret = sys_call2(__NR_prctl, PR_SET_NAME, t->comm);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_THREAD_NAME, ret, t->tid, 0);
	}
}

static void queue_own_pending(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread *t, int traps)
{
	const struct ckpt_restorer_siginfo *s = restorer_thread_pending(t);
	for (uint32_t i = 0; i < t->nr_pending; i++, s++) {
		if ((s->signo == RESTORER_SIGTRAP) != !!traps)
			continue;
		/* Only the thread itself may queue a signal that says it came
		 * from tgkill (SI_TKILL) to itself. */
		long ret = sys_call4(__NR_rt_tgsigqueueinfo, a->pid, t->tid, s->signo, s->raw);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_SIGQUEUE, ret, s->signo, 0);
	}
}

static void set_bases(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread *t)
{
	long ret = sys_call2(__NR_arch_prctl, ARCH_SET_FS, t->fs_base);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_FS_BASE, ret, t->fs_base, 0);
	ret = sys_call2(__NR_arch_prctl, ARCH_SET_GS, t->gs_base);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_FS_BASE, ret, t->gs_base, 1);
}

/* struct sock_fprog of <linux/filter.h>: len, then the pointer at 8. */
struct restorer_sock_fprog {
	uint16_t len;
	uint16_t pad[3];
	const struct ckpt_sock_filter *filter;
};

#define RESTORER_SECCOMP_SET_MODE_FILTER 1

/* The thread's own chain, oldest first, without TSYNC: each thread gets
 * exactly the filters it had.  ckpt traces the thread with
 * PTRACE_O_SUSPEND_SECCOMP, so the filters are not enforced on the blob's
 * remaining syscalls (credentials, signals, timers, rt_sigreturn) nor on
 * ckpt's remote munmap; they take effect when ckpt detaches.  Installed
 * while the thread still has ckpt's credentials (CAP_SYS_ADMIN), before
 * restorer_set_creds: a target thread may have installed them when it was
 * privileged and given that up since, without no_new_privs. */
static void install_seccomp(const struct restorer_view *v, const struct ckpt_restorer_thread *t)
{
	const struct ckpt_restorer_seccomp *sc = restorer_thread_seccomp(v, t->tid);
	if (!sc)
		return;
	const char *p = (const char *)(sc + 1);
	for (uint32_t i = 0; i < sc->nr_filters; i++) {
		const struct ckpt_restorer_seccomp_filter *f = (const struct ckpt_restorer_seccomp_filter *)p;
		struct restorer_sock_fprog prog;
		memset(&prog, 0, sizeof(prog));
		prog.len = (uint16_t)f->len;
		prog.filter = (const struct ckpt_sock_filter *)(f + 1);
		long ret = sys_call3(__NR_seccomp, RESTORER_SECCOMP_SET_MODE_FILTER, f->flags, &prog);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_SECCOMP, ret, t->tid, i);
		p += sizeof(*f) + (uint64_t)f->len * sizeof(struct ckpt_sock_filter);
	}
}

static void close_helper_fds(struct ckpt_restorer_args *a)
{
	long ret = sys_call3(__NR_close_range, a->helper_fd_first, ~0u, 0);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_CLOSE_FDS, ret, a->helper_fd_first, 0);
}

/* What the int3 changed, put back.  The trap is a forced SIGTRAP: the
 * kernel unblocks SIGTRAP in the thread and, as it was blocked, resets its
 * action to SIG_DFL; a SIGTRAP already pending would have swallowed the
 * trap, and ckpt would have taken the target's signal for its own.  So a
 * pending SIGTRAP is queued only now, with every signal blocked again, and
 * the main thread, whose int3 ckpt lets go last in its process (no trap of
 * the process comes after it), sets SIGTRAP's action again and queues the
 * process-wide SIGTRAP (no other thread's trap can meet it).  ckpt follows
 * these syscalls on the way to rt_sigreturn. */
static void after_trap(const struct restorer_view *v, const struct ckpt_restorer_thread *t)
{
	struct ckpt_restorer_args *a = v->a;
	int main = t->flags & CKPT_THREAD_MAIN;
	if (main) {
		const struct ckpt_k_sigaction *act = &v->sigactions[RESTORER_SIGTRAP - 1];
		long ret = sys_call4(__NR_rt_sigaction, RESTORER_SIGTRAP, act, 0, 8);
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_SIGACTION, ret, RESTORER_SIGTRAP, act->handler);
	}
	if (!restorer_traps_pending(v, t))
		return;
	uint64_t all = ~0ull;
	long ret = sys_call4(__NR_rt_sigprocmask, 2 /* SIG_SETMASK */, &all, 0, 8);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_SIGQUEUE, ret, RESTORER_SIGTRAP, 2);
	if (main)
		restorer_queue_shared_pending(v, 1);
	queue_own_pending(a, t, 1);
}

void restorer_finish_thread(const struct restorer_view *v, struct ckpt_restorer_thread *t)
{
	struct ckpt_restorer_args *a = v->a;
	int main = t->flags & CKPT_THREAD_MAIN;
	set_thread_state(a, t);
	install_seccomp(v, t);
	restorer_set_creds(a, t);
	restorer_set_thread_prctl(v, t);
	restorer_set_thread_mempolicy(v, t);
	if (main) {
		close_helper_fds(a);
		restorer_queue_shared_pending(v, 0);
	}
	queue_own_pending(a, t, 0);
	if (main) {
		/* Armed last, so that the time spent restoring is not taken
		 * from them; every thread a timer may signal exists. */
		restorer_set_itimers(v);
		restorer_set_posix_timers(v);
	}
	set_bases(a, t);

	if (t->flags & CKPT_THREAD_EXITED) {
		/* The main thread had exited at dump: the process goes on
		 * without it, as it did.  At the int3 ckpt asks to see its
		 * exit, and holds it there. */
		__atomic_store_n(&t->phase, CKPT_PHASE_EXITING, __ATOMIC_SEQ_CST);
		__asm__ volatile("int3" ::: "memory");
		after_trap(v, t);
		for (;;)
			sys_call1(__NR_exit, 0);
	}

	/* The frame was built at an offset from the area's start. */
	struct ckpt_rt_sigframe *frame = (struct ckpt_rt_sigframe *)(a->area_start + t->sigframe);
	if (frame->uc.uc_mcontext.fpstate)
		frame->uc.uc_mcontext.fpstate += a->area_start;
	/* ckpt stops us here and follows us through rt_sigreturn to remove
	 * this area afterwards. */
	__atomic_store_n(&t->phase, CKPT_PHASE_SIGRETURN, __ATOMIC_SEQ_CST);
	__asm__ volatile("int3" ::: "memory");
	after_trap(v, t);
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "movl %1, %%eax\n\t"
			 "syscall\n\t"
			 "ud2\n\t"
			 :
			 : "r"((uint64_t)frame + 8), "i"(__NR_rt_sigreturn)
			 : "memory");
	__builtin_unreachable();
}

/* clone3 on the thread's own stack; the child calls
 * restorer_finish_thread(v, t) with the registers the parent put in r12,
 * r13 and r14. */
static long clone_thread(const struct restorer_view *v, struct ckpt_restorer_thread *t)
{
	uint64_t top = v->a->area_start + t->stack_top;
	int32_t tid = t->tid;
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	ca.stack = top - CKPT_RESTORER_THREAD_STACK;
	ca.stack_size = CKPT_RESTORER_THREAD_STACK;
	ca.set_tid = (uint64_t)&tid;
	ca.set_tid_size = 1;
	long ret;
	register long r12 __asm__("r12") = (long)v;
	register long r13 __asm__("r13") = (long)t;
	register long r14 __asm__("r14") = (long)restorer_finish_thread;
	__asm__ volatile("syscall\n\t"
			 "testq %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "movq %%r12, %%rdi\n\t"
			 "movq %%r13, %%rsi\n\t"
			 "callq *%%r14\n\t"
			 "ud2\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "a"(__NR_clone3), "D"(&ca), "S"(sizeof(ca)), "r"(r12), "r"(r13), "r"(r14)
			 : "rcx", "r11", "memory");
	return ret;
}

void restorer_create_threads(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	for (struct ckpt_restorer_thread *t = restorer_next_thread(a, 0); t; t = restorer_next_thread(a, t)) {
		if (t->flags & CKPT_THREAD_MAIN)
			continue;
		long ret = -RESTORER_EEXIST;
		for (int i = 0; i < RESTORER_TID_YIELDS + RESTORER_TID_SLEEPS && ret == -RESTORER_EEXIST; i++) {
			ret = clone_thread(v, t);
			if (ret != -RESTORER_EEXIST)
				break;
			if (i < RESTORER_TID_YIELDS) {
				sys_call0(__NR_sched_yield);
			} else {
				struct { long sec, nsec; } ms = { 0, 1000000 };
				sys_call2(__NR_nanosleep, &ms, 0);
			}
		}
		if (ret < 0)
			restorer_fail(a, CKPT_STEP_THREAD_CREATE, ret, t->tid, 0);
	}
}
