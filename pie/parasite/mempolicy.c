/* The NUMA memory policy of areas, as get_mempolicy(2) with MPOL_F_ADDR
 * reports it: the area's own, MPOL_DEFAULT if it has none (numa_maps would
 * show the main thread's policy there instead, which cannot be told from an
 * own one).  A thread's own policy is read by compel with a remote syscall. */
#include "pie.h"
#include "parasite.h"

/* The mode flags get_mempolicy(2) or's into the mode:
 * MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING. */
#define PARASITE_MPOL_MODE_FLAGS ((1u << 15) | (1u << 14) | (1u << 13))
#define PARASITE_MPOL_F_ADDR (1 << 1)

/* A kernel without NUMA says ENOSYS: nothing to restore then. */
void parasite_read_mempolicy(uint64_t addr, int32_t *ret, struct ckpt_mempolicy *out)
{
	int mode = 0;
	long r = sys_call5(__NR_get_mempolicy, &mode, out->nodes, CKPT_MEMPOLICY_MAXNODE, addr,
			   addr ? PARASITE_MPOL_F_ADDR : 0);
	*ret = (int32_t)r;
	if (r < 0) {
		for (int i = 0; i < CKPT_MEMPOLICY_WORDS; i++)
			out->nodes[i] = 0;
		mode = 0;
	}
	out->mode = (uint32_t)mode & ~PARASITE_MPOL_MODE_FLAGS;
	out->flags = (uint32_t)mode & PARASITE_MPOL_MODE_FLAGS;
}

long parasite_area_policies(struct parasite_area_policies *p)
{
	if (p->nr > PARASITE_MAX_AREA_POLICIES)
		return -E2BIG;
	for (uint32_t i = 0; i < p->nr; i++)
		parasite_read_mempolicy(p->areas[i].addr, &p->areas[i].ret, &p->areas[i].policy);
	return 0;
}
