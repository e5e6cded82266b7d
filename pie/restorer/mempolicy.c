/* NUMA memory policies: an area's (mbind), bound by the main thread once
 * the areas are mapped and before their pages are read in; a thread's own
 * (set_mempolicy), set by each thread for itself, as only a thread can. */
#include "restorer.h"

static const uint64_t *nodes_of(const struct ckpt_mempolicy *p)
{
	for (int i = 0; i < CKPT_MEMPOLICY_WORDS; i++)
		if (p->nodes[i])
			return p->nodes;
	return 0; /* MPOL_LOCAL, or MPOL_PREFERRED without nodes: no mask */
}

void restorer_bind_vmas(const struct restorer_view *v)
{
	for (uint32_t i = 0; i < v->nr_vma_mempolicy; i++) {
		const struct ckpt_restorer_vma_mempolicy *m = &v->vma_mempolicy[i];
		const uint64_t *nodes = nodes_of(&m->policy);
		long ret = sys_call6(__NR_mbind, (long)m->start, (long)(m->end - m->start),
				     (long)(m->policy.mode | m->policy.flags), (long)nodes,
				     nodes ? CKPT_MEMPOLICY_MAXNODE : 0, 0);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_MBIND, ret, m->start, m->end);
	}
}

void restorer_set_thread_mempolicy(const struct restorer_view *v, const struct ckpt_restorer_thread *t)
{
	for (uint32_t i = 0; i < v->nr_thread_mempolicy; i++) {
		const struct ckpt_restorer_thread_mempolicy *m = &v->thread_mempolicy[i];
		if (m->tid != t->tid)
			continue;
		const uint64_t *nodes = nodes_of(&m->policy);
		uint64_t mode = m->policy.mode | m->policy.flags;
		long ret = sys_call3(__NR_set_mempolicy, mode, nodes, nodes ? CKPT_MEMPOLICY_MAXNODE : 0);
		if (ret < 0)
			restorer_fail(v->a, CKPT_STEP_SET_MEMPOLICY, ret, (uint64_t)t->tid, mode);
		return;
	}
}
