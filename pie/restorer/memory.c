/* The address space: the vDSO is set aside, ckpt is unmapped, the target's
 * areas are mapped at their addresses, the vDSO is moved where the target had
 * it, and once the pages are in, every area gets its final protection. */
#include "restorer.h"

#include <asm/mman.h>
#include <linux/mman.h>

static long sys_mmap(uint64_t addr, uint64_t len, long prot, long flags, long fd, uint64_t off)
{
	return sys_call6(__NR_mmap, addr, len, prot, flags, fd, off);
}

static long sys_mremap(uint64_t from, uint64_t len, uint64_t to)
{
	return sys_call5(__NR_mremap, from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

void restorer_park_vdso(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	for (uint32_t i = 0; i < v->nr_vdso; i++) {
		struct ckpt_restorer_vdso_part *p = &v->vdso[i];
		long ret = sys_mremap(p->cur, p->size, p->park);
		if (ret != (long)p->park)
			restorer_fail(a, CKPT_STEP_VDSO_PARK, ret, p->cur, p->park);
	}
}

static void unmap_range(struct ckpt_restorer_args *a, uint64_t start, uint64_t end)
{
	if (end <= start)
		return;
	long ret = sys_call2(__NR_munmap, start, end - start);
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_UNMAP, ret, start, end);
}

/* Unmaps [from, to) but the KEEP ranges (by address) in it. */
static void unmap_sparing(const struct restorer_view *v, uint64_t from, uint64_t to)
{
	for (uint32_t i = 0; i < v->nr_keep; i++) {
		const struct ckpt_restorer_range *k = &v->keep[i];
		if (k->end <= from || k->start >= to)
			continue;
		unmap_range(v->a, from, k->start);
		from = k->end;
	}
	unmap_range(v->a, from, to);
}

/* Everything but the area goes: ckpt's binary, heap, libraries and stack;
 * premapped areas stay, to be moved in place.  The vsyscall page is not a
 * mapping and stays, as in every process. */
void restorer_unmap_ckpt(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	unmap_sparing(v, 0, a->area_start);
	unmap_sparing(v, a->area_end, a->task_size);
}

void restorer_map_vmas(const struct restorer_view *view)
{
	struct ckpt_restorer_args *a = view->a;
	const struct ckpt_restorer_vma *v = view->vmas;
	for (uint32_t i = 0; i < view->nr_vmas; i++, v++) {
		long prot = v->prot | (v->write_first ? PROT_WRITE : 0);
		long ret;
		if (v->shm_attach) {
			/* A SysV segment is attached by its id (without SHM_REMAP
			 * shmat fails with EINVAL rather than replace a mapping in
			 * the way).  It gives read, write unless SHM_RDONLY (010000),
			 * exec with SHM_EXEC (0100000); anything else is an mprotect. */
			long shmflg = 0, given = PROT_READ;
			if (prot & PROT_WRITE)
				given |= PROT_WRITE;
			else
				shmflg |= 010000;
			if (prot & PROT_EXEC) {
				shmflg |= 0100000;
				given |= PROT_EXEC;
			}
			ret = sys_call3(__NR_shmat, v->shmid, v->start, shmflg);
			if (ret != (long)v->start)
				restorer_fail(a, CKPT_STEP_SHMAT, ret, v->start, v->end);
			if (given != prot) {
				ret = sys_call3(__NR_mprotect, v->start, v->end - v->start, prot);
				if (ret < 0)
					restorer_fail(a, CKPT_STEP_MPROTECT, ret, v->start, v->end);
			}
		} else if (v->attrs & CKPT_VMA_PREMAPPED) {
			ret = sys_call5(__NR_mremap, v->premap_from, v->end - v->start, v->end - v->start,
					MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
			if (ret != (long)v->start)
				restorer_fail(a, CKPT_STEP_MMAP, ret, v->start, v->end);
		} else {
			long flags = v->map_flags | MAP_FIXED_NOREPLACE;
			ret = sys_mmap(v->start, v->end - v->start, prot, flags, v->fd, v->pgoff);
			if (ret != (long)v->start)
				restorer_fail(a, CKPT_STEP_MMAP, ret, v->start, v->end);
		}
		/* Advice first: a MADV_HUGEPAGE area is filled with huge pages. */
		for (int advice = 0; advice < 64; advice++) {
			if (!(v->madv & (1ull << advice)))
				continue;
			ret = sys_call3(__NR_madvise, v->start, v->end - v->start, advice);
			if (ret < 0)
				restorer_fail(a, CKPT_STEP_MADVISE, ret, v->start, v->end);
		}
	}
}

/* Same kernel, same vDSO: the parts keep the relative layout the kernel gave
 * them, so each one moves to its dumped address on its own.  Else (a proxy)
 * they move together next to the area, and the dumped [vdso], mapped among
 * the areas, receives the jumps ckpt computed. */
void restorer_place_vdso(const struct restorer_view *v)
{
	struct ckpt_restorer_args *a = v->a;
	for (uint32_t i = 0; i < v->nr_vdso; i++) {
		struct ckpt_restorer_vdso_part *p = &v->vdso[i];
		if (!p->target)
			continue;
		long ret = sys_mremap(p->park, p->size, p->target);
		if (ret != (long)p->target)
			restorer_fail(a, CKPT_STEP_VDSO_MOVE, ret, p->park, p->target);
	}
	if (v->vdso_proxy_size)
		memcpy((void *)v->proc->vdso_proxy_addr, v->vdso_proxy, v->vdso_proxy_size);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

/* Once the pages are in: installing guard pages discards what their range
 * holds, and no run touches them. */
void restorer_install_guards(const struct restorer_view *view)
{
	const struct ckpt_restorer_range *g = view->guards;
	for (uint32_t i = 0; i < view->nr_guards; i++, g++) {
		long ret = sys_call3(__NR_madvise, g->start, g->end - g->start, MADV_GUARD_INSTALL);
		if (ret < 0)
			restorer_fail(view->a, CKPT_STEP_MADVISE, ret, g->start, g->end);
	}
}

#define MLOCK_ONFAULT_FLAG 1 /* MLOCK_ONFAULT */
#ifndef __NR_mseal
#define __NR_mseal 462 /* Linux 6.10 */
#endif

void restorer_protect_vmas(const struct restorer_view *view)
{
	struct ckpt_restorer_args *a = view->a;
	const struct ckpt_restorer_vma *v = view->vmas;
	for (uint32_t i = 0; i < view->nr_vmas; i++, v++) {
		uint64_t len = v->end - v->start;
		long ret;
		int raised = v->write_first && !(v->prot & PROT_WRITE);
		/* A premapped area was made read-write. */
		if ((v->attrs & CKPT_VMA_PREMAPPED) && v->prot != (PROT_READ | PROT_WRITE))
			raised = 1;
		if (raised) {
			ret = sys_call3(__NR_mprotect, v->start, len, v->prot);
			if (ret < 0)
				restorer_fail(a, CKPT_STEP_MPROTECT, ret, v->start, v->end);
		}
		/* Locked on fault: the pages read in are locked now, the rest
		 * when they come. */
		if (v->attrs & CKPT_VMA_LOCK_ONFAULT) {
			ret = sys_call3(__NR_mlock2, v->start, len, MLOCK_ONFAULT_FLAG);
			if (ret < 0)
				restorer_fail(a, CKPT_STEP_MADVISE, ret, v->start, v->end);
		}
		/* Last: nothing may change a sealed area afterwards. */
		if (v->attrs & CKPT_VMA_SEAL) {
			ret = sys_call3(__NR_mseal, v->start, len, 0);
			if (ret < 0)
				restorer_fail(a, CKPT_STEP_MADVISE, ret, v->start, v->end);
		}
	}
}
