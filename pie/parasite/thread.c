/* Per-thread state, read by running this command in each thread: the
 * alternate signal stack, the clear-child-tid address, the credentials,
 * the timer slack, the parent-death signal, the speculation controls, the
 * TSC and CPUID faulting, the machine-check kill policy and the NUMA
 * memory policy (all of which Linux keeps per thread). */
#include <linux/capability.h>
#include <linux/prctl.h>

#include "pie.h"
#include "parasite.h"

static long read_caps(struct parasite_args *args, struct parasite_creds *c)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	long r = sys_call2(__NR_capget, &hdr, data);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	c->cap_eff = data[0].effective | (uint64_t)data[1].effective << 32;
	c->cap_prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	c->cap_inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;

	c->cap_bnd = 0;
	c->cap_amb = 0;
	for (int cap = 0; cap < 64; cap++) {
		r = sys_call2(__NR_prctl, PR_CAPBSET_READ, cap);
		if (r < 0)
			break; /* past the last capability the kernel knows */
		if (r)
			c->cap_bnd |= 1ULL << cap;
		r = sys_call5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		if (r > 0)
			c->cap_amb |= 1ULL << cap;
	}
	return 0;
}

static long read_creds(struct parasite_args *args, struct parasite_creds *c)
{
	long r = sys_call3(__NR_getresuid, &c->uid, &c->euid, &c->suid);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	r = sys_call3(__NR_getresgid, &c->gid, &c->egid, &c->sgid);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	/* An invalid id changes nothing and returns the current one. */
	c->fsuid = (uint32_t)sys_call1(__NR_setfsuid, -1);
	c->fsgid = (uint32_t)sys_call1(__NR_setfsgid, -1);
	r = sys_call2(__NR_getgroups, PARASITE_MAX_GROUPS, c->groups);
	if (r < 0)
		return PARASITE_FAIL(args, r == -EINVAL ? -E2BIG : r);
	c->ngroups = (uint32_t)r;
	r = sys_call1(__NR_prctl, PR_GET_SECUREBITS);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	c->securebits = (uint32_t)r;
	r = sys_call1(__NR_prctl, PR_GET_NO_NEW_PRIVS);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	c->no_new_privs = (uint32_t)r;
	return read_caps(args, c);
}

long parasite_thread_info(struct parasite_args *args, struct parasite_thread_info *out)
{
	/* stack_t of the kernel: sp, flags (int, padded), size. */
	struct {
		uint64_t sp;
		int32_t flags;
		int32_t pad;
		uint64_t size;
	} ss;
	long r = sys_call2(__NR_sigaltstack, 0, &ss);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	out->altstack_sp = ss.sp;
	out->altstack_flags = ss.flags;
	out->altstack_size = ss.size;
	out->clear_child_tid = 0;
	r = sys_call2(__NR_prctl, PR_GET_TID_ADDRESS, &out->clear_child_tid);
	if (r < 0 && r != -EINVAL) /* EINVAL: kernel without CONFIG_CHECKPOINT_RESTORE */
		return PARASITE_FAIL(args, r);
	r = sys_call1(__NR_prctl, PR_GET_TIMERSLACK);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	out->timer_slack_ns = (uint64_t)r;
	r = sys_call2(__NR_prctl, PR_GET_PDEATHSIG, &out->pdeath_sig);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	/* PR_SPEC_STORE_BYPASS 0, PR_SPEC_INDIRECT_BRANCH 1, PR_SPEC_L1D_FLUSH 2. */
	for (int kind = 0; kind < 3; kind++)
		out->speculation[kind] = (int32_t)sys_call5(__NR_prctl, PR_GET_SPECULATION_CTRL, kind, 0, 0, 0);
	r = sys_call2(__NR_prctl, PR_GET_TSC, &out->tsc);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	out->mce_kill = (int32_t)sys_call5(__NR_prctl, PR_MCE_KILL_GET, 0, 0, 0, 0);
	if (out->mce_kill < 0)
		return PARASITE_FAIL(args, out->mce_kill);
	out->cpuid = (int32_t)sys_call2(__NR_arch_prctl, 0x1011 /* ARCH_GET_CPUID */, 0);
	parasite_read_mempolicy(0, &out->mempolicy_ret, &out->mempolicy);
	return read_creds(args, &out->creds);
}
