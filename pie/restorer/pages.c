/* The pages: every run of the pagemap (split by ckpt into bounded pieces) is
 * one IOCB_CMD_PREAD straight into the target's memory, submitted in batches
 * on a native AIO context: no copy through a buffer of ours.  With O_DIRECT
 * the reads go to the device in parallel; buffered, io_submit copies from
 * the page cache, and the cost is the copy plus faulting in fresh pages, so
 * a second thread takes every other run to use a second CPU. */
#include "restorer.h"

#include <asm/mman.h>
#include <linux/aio_abi.h>
#include <linux/futex.h>
#include <linux/sched.h>

#define MAX_BATCH 128

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct reader {
	struct ckpt_restorer_args *args;
	uint32_t index, stride;       /* takes runs index, index+stride, ... */
	volatile int32_t tid;         /* cleared by the kernel when the thread ends */
	struct iocb cbs[MAX_BATCH];
	struct iocb *cbp[MAX_BATCH];
	struct io_event events[MAX_BATCH];
	const struct ckpt_restorer_run *batch[MAX_BATCH];
};

static struct reader readers[CKPT_RESTORER_MAX_IO_WORKERS];

static uint64_t now_ns(void)
{
	struct { int64_t sec, nsec; } ts = {0, 0};
	sys_call2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts);
	return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

/* The rest of a short read, synchronously. */
static void finish_short(struct ckpt_restorer_args *a, const struct ckpt_restorer_run *r, uint64_t done)
{
	while (done < r->len) {
		long ret = sys_call4(__NR_pread64, a->pages_fd, r->vaddr + done, r->len - done, r->offset + done);
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_READ, ret ? ret : -5 /* EIO */, r->vaddr + done,
				      r->len - done);
		done += ret;
	}
}

static void run_batch(struct reader *rd, aio_context_t ctx, uint32_t n)
{
	struct ckpt_restorer_args *a = rd->args;
	for (uint32_t i = 0; i < n; i++) {
		const struct ckpt_restorer_run *r = rd->batch[i];
		if (a->io_flags & CKPT_IO_PREFAULT)
			sys_call3(__NR_madvise, r->vaddr, r->len, MADV_POPULATE_WRITE); /* a hint: errors are harmless */
		memset(&rd->cbs[i], 0, sizeof(rd->cbs[i]));
		rd->cbs[i].aio_data = i;
		rd->cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
		rd->cbs[i].aio_fildes = a->pages_fd;
		rd->cbs[i].aio_buf = r->vaddr;
		rd->cbs[i].aio_nbytes = r->len;
		rd->cbs[i].aio_offset = r->offset;
		rd->cbp[i] = &rd->cbs[i];
	}
	uint32_t submitted = 0;
	while (submitted < n) {
		long ret = sys_call3(__NR_io_submit, ctx, n - submitted, &rd->cbp[submitted]);
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_SUBMIT, ret ? ret : -11 /* EAGAIN */,
				      rd->batch[submitted]->vaddr, rd->batch[submitted]->len);
		submitted += ret;
	}
	uint32_t reaped = 0;
	while (reaped < n) {
		long ret = sys_call5(__NR_io_getevents, ctx, 1, n - reaped, rd->events, 0);
		if (ret == -4 /* EINTR */)
			continue;
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_READ, ret, 0, 0);
		for (long e = 0; e < ret; e++) {
			const struct ckpt_restorer_run *r = rd->batch[rd->events[e].data];
			if (rd->events[e].res < 0)
				restorer_fail(a, CKPT_STEP_AIO_READ, rd->events[e].res, r->vaddr, r->len);
			if ((uint64_t)rd->events[e].res < r->len)
				finish_short(a, r, rd->events[e].res);
		}
		reaped += ret;
	}
}

static int read_share(struct reader *rd)
{
	struct ckpt_restorer_args *a = rd->args;
	uint32_t batch = a->aio_batch;
	if (batch == 0 || batch > MAX_BATCH)
		batch = MAX_BATCH;
	aio_context_t ctx = 0;
	long ret = sys_call2(__NR_io_setup, batch, &ctx);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_AIO_SETUP, ret, batch, 0);
	const struct ckpt_restorer_run *runs = restorer_runs(a);
	uint32_t n = 0;
	for (uint32_t i = rd->index; i < a->nr_runs; i += rd->stride) {
		rd->batch[n++] = &runs[i];
		if (n == batch) {
			run_batch(rd, ctx, n);
			n = 0;
		}
	}
	if (n)
		run_batch(rd, ctx, n);
	/* The AIO ring is a mapping of its own: it must go before the task's
	 * address space is final. */
	sys_call1(__NR_io_destroy, ctx);
	return 0;
}

/* A thread of the task sharing everything, on its own stack in the area;
 * it exits alone and the kernel clears rd->tid for the waiter. */
static long start_reader(struct reader *rd, uint64_t stack_top)
{
	long ret;
	register long r10 __asm__("r10") = (long)&rd->tid;  /* child_tid */
	register long r8 __asm__("r8") = 0;                  /* tls */
	register long r12 __asm__("r12") = (long)rd;
	register long r13 __asm__("r13") = (long)read_share;
	long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		     CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	__asm__ volatile("syscall\n\t"
			 "testq %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "movq %%r12, %%rdi\n\t"
			 "callq *%%r13\n\t"
			 "movl $0, %%edi\n\t"
			 "movl %[exit_nr], %%eax\n\t"
			 "syscall\n\t"
			 "ud2\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "a"(__NR_clone), "D"(flags), "S"(stack_top), "d"(0), "r"(r10), "r"(r8), "r"(r12), "r"(r13),
			   [exit_nr] "i"(__NR_exit)
			 : "rcx", "r11", "memory");
	return ret;
}

static void wait_reader(struct reader *rd)
{
	int32_t tid;
	while ((tid = __atomic_load_n(&rd->tid, __ATOMIC_SEQ_CST)) != 0)
		sys_call6(__NR_futex, (long)&rd->tid, FUTEX_WAIT, tid, 0, 0, 0);
}

void restorer_read_pages(struct ckpt_restorer_args *a)
{
	if (!a->nr_runs)
		return;
	uint64_t start = now_ns();
	uint32_t workers = a->io_workers;
	if (workers < 1 || workers > CKPT_RESTORER_MAX_IO_WORKERS || !a->worker_stack_top || a->nr_runs < 2)
		workers = 1;
	for (uint32_t i = 0; i < workers; i++) {
		readers[i].args = a;
		readers[i].index = i;
		readers[i].stride = workers;
		readers[i].tid = -1;
	}
	int helper = 0;
	if (workers == 2) {
		long ret = start_reader(&readers[1], a->worker_stack_top);
		if (ret > 0)
			helper = 1;
		else
			readers[0].stride = 1; /* no thread: read everything here */
	}
	read_share(&readers[0]);
	if (helper)
		wait_reader(&readers[1]);
	a->status.pages_ns = now_ns() - start;
}
