/* A NUMA memory policy as get_mempolicy(2) reports it and
 * set_mempolicy(2)/mbind(2) take it, shared by the parasite (which reads a
 * thread's), the restorer (which sets a thread's and an area's) and ckpt.
 * Plain C; the layout is pinned here and in compel/src/infect.cpp and
 * src/restore/args_layout.cpp. */
#ifndef CKPT_MEMPOLICY_H
#define CKPT_MEMPOLICY_H

#include <stdint.h>

/* 1024 nodes, the most a kernel can have (NODES_SHIFT 10). */
#define CKPT_MEMPOLICY_WORDS 16
/* The maxnode the calls take for a mask of that size: the kernel counts one
 * bit less than it is given (an old off-by-one kept for compatibility). */
#define CKPT_MEMPOLICY_MAXNODE (CKPT_MEMPOLICY_WORDS * 64 + 1)

struct ckpt_mempolicy {
	uint32_t mode;   /* MPOL_DEFAULT 0, PREFERRED 1, BIND 2, INTERLEAVE 3, LOCAL 4, ... */
	uint32_t flags;  /* MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING */
	uint64_t nodes[CKPT_MEMPOLICY_WORDS];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct ckpt_mempolicy) == 8 + 8 * CKPT_MEMPOLICY_WORDS, "ckpt_mempolicy layout");
#else
static_assert(sizeof(ckpt_mempolicy) == 8 + 8 * CKPT_MEMPOLICY_WORDS, "ckpt_mempolicy layout");
#endif

#endif
