/* The pages: every run of the pagemap is one IOCB_CMD_PREAD straight into the
 * target's memory, submitted in batches on a native AIO context (no copy
 * through a buffer of ours).  With O_DIRECT the reads go in parallel from
 * the device; buffered, io_submit copies from the page cache. */
#include "restorer.h"

#include <linux/aio_abi.h>

#define MAX_BATCH 256

static struct iocb cbs[MAX_BATCH];
static struct iocb *cbp[MAX_BATCH];
static struct io_event events[MAX_BATCH];

/* The rest of a short read, synchronously (a run ending in a hole of the
 * file would show up here). */
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

static void run_batch(struct ckpt_restorer_args *a, aio_context_t ctx, const struct ckpt_restorer_run *runs,
		      uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(&cbs[i], 0, sizeof(cbs[i]));
		cbs[i].aio_data = i;
		cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
		cbs[i].aio_fildes = a->pages_fd;
		cbs[i].aio_buf = runs[i].vaddr;
		cbs[i].aio_nbytes = runs[i].len;
		cbs[i].aio_offset = runs[i].offset;
		cbp[i] = &cbs[i];
	}
	uint32_t submitted = 0;
	while (submitted < n) {
		long ret = sys_call3(__NR_io_submit, ctx, n - submitted, &cbp[submitted]);
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_SUBMIT, ret ? ret : -11 /* EAGAIN */,
				      runs[submitted].vaddr, runs[submitted].len);
		submitted += ret;
	}
	uint32_t reaped = 0;
	while (reaped < n) {
		long ret = sys_call5(__NR_io_getevents, ctx, 1, n - reaped, events, 0);
		if (ret == -4 /* EINTR */)
			continue;
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_READ, ret, 0, 0);
		for (long e = 0; e < ret; e++) {
			const struct ckpt_restorer_run *r = &runs[events[e].data];
			if (events[e].res < 0)
				restorer_fail(a, CKPT_STEP_AIO_READ, events[e].res, r->vaddr, r->len);
			if ((uint64_t)events[e].res < r->len)
				finish_short(a, r, events[e].res);
		}
		reaped += ret;
	}
}

void restorer_read_pages(struct ckpt_restorer_args *a)
{
	if (!a->nr_runs)
		return;
	uint32_t batch = a->aio_batch;
	if (batch == 0 || batch > MAX_BATCH)
		batch = MAX_BATCH;
	aio_context_t ctx = 0;
	long ret = sys_call2(__NR_io_setup, batch, &ctx);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_AIO_SETUP, ret, batch, 0);
	const struct ckpt_restorer_run *runs = restorer_runs(a);
	for (uint32_t i = 0; i < a->nr_runs; i += batch) {
		uint32_t n = a->nr_runs - i < batch ? a->nr_runs - i : batch;
		run_batch(a, ctx, runs + i, n);
	}
	/* The AIO ring is a mapping of its own: it must go before the task's
	 * address space is final. */
	sys_call1(__NR_io_destroy, ctx);
}
