/* The pages: every run of the pagemap (split by ckpt into bounded pieces,
 * each inside one area) goes straight into the target's memory, never
 * through a buffer of ours:
 *
 *  - by native AIO when the image is read with O_DIRECT: one IOCB_CMD_PREAD
 *    per piece, submitted in batches, so the device works on many at once;
 *  - for anonymous private areas of a buffered image, by UFFDIO_COPY from a
 *    read-only mapping of the pages file: the kernel allocates each page and
 *    copies into it, skipping the zeroing of a fresh page and the fault per
 *    page that a read into empty memory costs;
 *  - the rest of a buffered image (private file areas, shared memory, or
 *    everything without userfaultfd) by pread into pages faulted in first;
 *  - runs in another process's pages image (CKPT_RUN_OTHER_FILE: pages it
 *    shared with that one since fork) the same ways, from the run's fd, or
 *    by UFFDIO_COPY from a mapping of that image too.
 *
 * From the page cache the cost is copying and allocating, so a second thread
 * takes every other piece to use a second CPU. */
#include "restorer.h"

#include <asm/mman.h>
#include <linux/aio_abi.h>
#include <linux/mman.h>
#include <linux/futex.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>
#include <linux/sched.h>

#define MAX_BATCH 128

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct reader {
	const struct restorer_view *v;
	uint32_t index, stride;       /* takes runs index, index+stride, ... */
	volatile int32_t tid;         /* cleared by the kernel when the thread ends */
	struct iocb cbs[MAX_BATCH];
	struct iocb *cbp[MAX_BATCH];
	struct io_event events[MAX_BATCH];
	const struct ckpt_restorer_run *batch[MAX_BATCH];
};

/* Shared by the readers: the userfaultfd, the pages file's mapping, and the
 * mapping of the other processes' pages images (PAGE_FILES), side by side
 * in their order there. */
static long uffd = -1;
static uint64_t pages_map;
static uint64_t others_map, others_size;

static struct reader readers[CKPT_RESTORER_MAX_IO_WORKERS];

static uint64_t now_ns(void)
{
	struct { int64_t sec, nsec; } ts = {0, 0};
	sys_call2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts);
	return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

/* The file a run's pages are in: the process's own pages image, or another
 * process's (pages shared with it since fork, stored once). */
static int run_fd(const struct restorer_view *v, const struct ckpt_restorer_run *r)
{
	return (r->flags & CKPT_RUN_OTHER_FILE) ? r->fd : v->proc->pages_fd;
}

/* The rest of a short read, synchronously. */
static void finish_short(const struct restorer_view *v, const struct ckpt_restorer_run *r, uint64_t done)
{
	struct ckpt_restorer_args *a = v->a;
	while (done < r->len) {
		long ret = sys_call4(__NR_pread64, run_fd(v, r), r->vaddr + done, r->len - done, r->offset + done);
		if (ret <= 0)
			restorer_fail(a, CKPT_STEP_AIO_READ, ret ? ret : -5 /* EIO */, r->vaddr + done,
				      r->len - done);
		done += ret;
	}
}

/* ckpt polls the count for its progress line and its stats. */
static void count_done(struct ckpt_restorer_args *a, uint64_t len)
{
	__atomic_fetch_add(&a->status.pages_done, len, __ATOMIC_RELAXED);
}

static void run_batch(struct reader *rd, aio_context_t ctx, uint32_t n)
{
	const struct restorer_view *v = rd->v;
	struct ckpt_restorer_args *a = v->a;
	for (uint32_t i = 0; i < n; i++) {
		const struct ckpt_restorer_run *r = rd->batch[i];
		if (v->proc->io_flags & CKPT_IO_PREFAULT)
			sys_call3(__NR_madvise, r->vaddr, r->len, MADV_POPULATE_WRITE); /* a hint: errors are harmless */
		memset(&rd->cbs[i], 0, sizeof(rd->cbs[i]));
		rd->cbs[i].aio_data = i;
		rd->cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
		rd->cbs[i].aio_fildes = run_fd(v, r);
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
				finish_short(v, r, rd->events[e].res);
			count_done(a, r->len);
		}
		reaped += ret;
	}
}

/* Where a run's data is in the mappings UFFDIO_COPY copies from: the own
 * pages image's, or that of the other image its fd names. */
static uint64_t run_source(const struct restorer_view *v, const struct ckpt_restorer_run *r)
{
	if (!(r->flags & CKPT_RUN_OTHER_FILE))
		return pages_map + r->offset;
	uint64_t at = others_map;
	for (uint32_t i = 0; i < v->nr_page_files; i++) {
		if (v->page_files[i].fd == r->fd)
			return at + r->offset;
		at += v->page_files[i].size;
	}
	restorer_fail(v->a, CKPT_STEP_UFFD_COPY, -9 /* EBADF */, r->vaddr, r->len);
}

static void uffd_copy(const struct restorer_view *v, const struct ckpt_restorer_run *r)
{
	struct ckpt_restorer_args *a = v->a;
	uint64_t src = run_source(v, r);
	uint64_t done = 0;
	while (done < r->len) {
		struct uffdio_copy c = {
			.dst = r->vaddr + done,
			.src = src + done,
			.len = r->len - done,
			.mode = 0,
		};
		long ret = sys_call3(__NR_ioctl, uffd, UFFDIO_COPY, &c);
		if (c.copy > 0)
			done += c.copy;
		else if (ret < 0 && ret != -11 /* EAGAIN */)
			restorer_fail(a, CKPT_STEP_UFFD_COPY, ret, r->vaddr + done, r->len - done);
	}
}

/* Buffered reads: AIO would copy synchronously inside io_submit as well,
 * and io_destroy waits for an RCU grace period (tens of milliseconds), so a
 * plain pread does the same work without that wait. */
static void read_plain(const struct restorer_view *v, const struct ckpt_restorer_run *r)
{
	if (v->proc->io_flags & CKPT_IO_PREFAULT)
		sys_call3(__NR_madvise, r->vaddr, r->len, MADV_POPULATE_WRITE);
	finish_short(v, r, 0);
}

static int read_share(struct reader *rd)
{
	const struct restorer_view *v = rd->v;
	struct ckpt_restorer_args *a = v->a;
	int aio = v->proc->io_flags & CKPT_IO_AIO;
	uint32_t batch = v->proc->aio_batch;
	if (batch == 0 || batch > MAX_BATCH)
		batch = MAX_BATCH;
	aio_context_t ctx = 0;
	const struct ckpt_restorer_run *runs = v->runs;
	uint32_t n = 0;
	for (uint32_t i = rd->index; i < v->nr_runs; i += rd->stride) {
		if ((runs[i].flags & CKPT_RUN_UFFD) && uffd >= 0) {
			uffd_copy(v, &runs[i]);
			count_done(a, runs[i].len);
			continue;
		}
		if (!aio) {
			read_plain(v, &runs[i]);
			count_done(a, runs[i].len);
			continue;
		}
		if (!ctx) {
			long ret = sys_call2(__NR_io_setup, batch, &ctx);
			if (ret < 0)
				restorer_fail(a, CKPT_STEP_AIO_SETUP, ret, batch, 0);
		}
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
	if (ctx)
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
	/* Untraced: ckpt traces the task and its threads (TRACECLONE), not
	 * this helper, which must vanish by itself. */
	long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
		     CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_UNTRACED;
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

static uint64_t map_file(struct ckpt_restorer_args *a, uint64_t at, uint64_t size, int fd)
{
	long m = sys_call6(__NR_mmap, at, size, PROT_READ, MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
	if (m < 0 && m > -4096)
		restorer_fail(a, CKPT_STEP_PAGES_MAP, m, size, (uint64_t)(int64_t)fd);
	return (uint64_t)m;
}

/* The pages images UFFDIO_COPY copies from, mapped read-only: the own one
 * (if the process has pages there), and the other processes' side by side
 * in one range reserved for them. */
static void map_page_files(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	if (v->proc->pages_fd >= 0 && v->proc->pages_size)
		pages_map = map_file(a, 0, v->proc->pages_size, v->proc->pages_fd);
	for (uint32_t i = 0; i < v->nr_page_files; i++)
		others_size += v->page_files[i].size;
	if (!others_size)
		return;
	long m = sys_call6(__NR_mmap, 0, others_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		restorer_fail(a, CKPT_STEP_PAGES_MAP, m, others_size, (uint64_t)-1);
	others_map = (uint64_t)m;
	uint64_t at = others_map;
	for (uint32_t i = 0; i < v->nr_page_files; i++) {
		if (v->page_files[i].size)
			map_file(a, at, v->page_files[i].size, v->page_files[i].fd);
		at += v->page_files[i].size;
	}
}

/* Registers every area that UFFDIO_COPY fills; on any refusal (no
 * userfaultfd here, say) it is all undone and AIO reads everything. */
static void uffd_setup(const struct restorer_view *view)
{
	if (!(view->proc->io_flags & CKPT_IO_UFFD))
		return;
	uffd = sys_call1(__NR_userfaultfd, 02000000 /* O_CLOEXEC */);
	if (uffd < 0)
		return;
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	int ok = sys_call3(__NR_ioctl, uffd, UFFDIO_API, &api) == 0;
	const struct ckpt_restorer_vma *v = view->vmas;
	uint32_t registered = 0;
	for (; ok && registered < view->nr_vmas; registered++) {
		if (!v[registered].uffd)
			continue;
		struct uffdio_register reg = {
			.range = {.start = v[registered].start, .len = v[registered].end - v[registered].start},
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		ok = sys_call3(__NR_ioctl, uffd, UFFDIO_REGISTER, &reg) == 0;
	}
	if (ok) {
		map_page_files(view);
		return;
	}
	for (uint32_t i = 0; i < registered; i++) {
		if (!v[i].uffd)
			continue;
		struct uffdio_range range = {.start = v[i].start, .len = v[i].end - v[i].start};
		sys_call3(__NR_ioctl, uffd, UFFDIO_UNREGISTER, &range);
	}
	sys_call1(__NR_close, uffd);
	uffd = -1;
}

/* The areas become ordinary again: no trace of userfaultfd, no mapping of
 * a pages file. */
static void uffd_teardown(const struct restorer_view *view)
{
	if (uffd < 0)
		return;
	const struct ckpt_restorer_vma *v = view->vmas;
	for (uint32_t i = 0; i < view->nr_vmas; i++) {
		if (!v[i].uffd)
			continue;
		struct uffdio_range range = {.start = v[i].start, .len = v[i].end - v[i].start};
		sys_call3(__NR_ioctl, uffd, UFFDIO_UNREGISTER, &range);
	}
	sys_call1(__NR_close, uffd);
	if (pages_map)
		sys_call2(__NR_munmap, pages_map, view->proc->pages_size);
	if (others_map)
		sys_call2(__NR_munmap, others_map, others_size);
	uffd = -1;
}

void restorer_read_pages(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	if (!v->nr_runs)
		return;
	uint64_t start = now_ns();
	uint32_t workers = v->proc->io_workers;
	if (workers < 1 || workers > CKPT_RESTORER_MAX_IO_WORKERS || !v->proc->worker_stack_top || v->nr_runs < 2)
		workers = 1;
	for (uint32_t i = 0; i < workers; i++) {
		readers[i].v = v;
		readers[i].index = i;
		readers[i].stride = workers;
		readers[i].tid = -1;
	}
	uffd_setup(v);
	int helper = 0;
	if (workers == 2) {
		long ret = start_reader(&readers[1], a->area_start + v->proc->worker_stack_top);
		if (ret > 0)
			helper = 1;
		else
			readers[0].stride = 1; /* no thread: read everything here */
	}
	read_share(&readers[0]);
	if (helper)
		wait_reader(&readers[1]);
	uffd_teardown(v);
	a->status.pages_ns = now_ns() - start;
}
