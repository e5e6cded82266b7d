/* Which interrupted syscalls ckpt issues again.  Shared by compel (a tree
 * let go after a dump) and the restore (a restored thread's frame), so that
 * both sides make the same call.  Plain C, x86_64 numbers. */
#ifndef CKPT_SYSCALL_RESTART_H
#define CKPT_SYSCALL_RESTART_H

#include <asm/unistd.h>
#include <stdint.h>

/* A wait that the kernel ends with a plain -EINTR (no restart code)
 * whenever a signal is pending, a ptrace interrupt included: epoll_wait and
 * its variants, rt_sigtimedwait (sigwaitinfo).  Stopped there with no
 * deliverable signal (`deliverable`: pending and not blocked), its EINTR is
 * the freeze's alone, and the wait is to be issued again. */
static inline int ckpt_eintr_of_the_freeze(int64_t orig_ax, int64_t ax, uint64_t deliverable)
{
	int plain_eintr_wait = orig_ax == __NR_epoll_wait || orig_ax == __NR_epoll_pwait ||
			       orig_ax == __NR_epoll_pwait2 || orig_ax == __NR_rt_sigtimedwait;
	return plain_eintr_wait && ax == -4 /* EINTR */ && deliverable == 0;
}

#endif
