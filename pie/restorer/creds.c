/* Credentials of the calling thread (Linux keeps them per thread, and the
 * raw syscalls below change only the caller's), the last privileged step: bounding set and securebits while
 * still privileged, then groups and ids (keeping capabilities across the uid
 * change), then the capability sets themselves. */
#include "restorer.h"

#include <linux/capability.h>
#include <linux/prctl.h>
#include <linux/securebits.h>

static void check(struct ckpt_restorer_args *a, long ret, uint32_t call)
{
	if (ret < 0)
		restorer_fail(a, CKPT_STEP_CREDS, ret, call, 0);
}

void restorer_set_creds(struct ckpt_restorer_args *a, const struct ckpt_restorer_thread *t)
{
	const struct ckpt_restorer_creds *c = &t->creds;
	if (!c->present)
		return;

	for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++) {
		if (c->cap_bnd & (1ull << cap))
			continue;
		check(a, sys_call2(__NR_prctl, PR_CAPBSET_DROP, cap), CKPT_CREDS_BOUNDING);
	}
	long cur = sys_call1(__NR_prctl, PR_GET_SECUREBITS);
	check(a, cur, CKPT_CREDS_SECUREBITS);
	uint32_t want = c->securebits | SECBIT_KEEP_CAPS;
	if ((uint32_t)cur != want)
		check(a, sys_call2(__NR_prctl, PR_SET_SECUREBITS, want), CKPT_CREDS_SECUREBITS);

	check(a, sys_call2(__NR_setgroups, c->ngroups, restorer_thread_groups(t)), CKPT_CREDS_GROUPS);
	check(a, sys_call3(__NR_setresgid, c->gid, c->egid, c->sgid), CKPT_CREDS_GIDS);
	sys_call1(__NR_setfsgid, c->fsgid);
	check(a, sys_call3(__NR_setresuid, c->uid, c->euid, c->suid), CKPT_CREDS_UIDS);
	sys_call1(__NR_setfsuid, c->fsuid);

	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)c->cap_eff, (uint32_t)c->cap_prm, (uint32_t)c->cap_inh},
		{(uint32_t)(c->cap_eff >> 32), (uint32_t)(c->cap_prm >> 32), (uint32_t)(c->cap_inh >> 32)},
	};
	check(a, sys_call2(__NR_capset, &hdr, data), CKPT_CREDS_CAPSET);
	for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++) {
		if (!(c->cap_amb & (1ull << cap)))
			continue;
		check(a, sys_call5(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0), CKPT_CREDS_AMBIENT);
	}
	/* KEEP_CAPS only if the target had it; clearing it needs no privilege. */
	if (!(c->securebits & SECBIT_KEEP_CAPS))
		check(a, sys_call2(__NR_prctl, PR_SET_KEEPCAPS, 0), CKPT_CREDS_KEEPCAPS);
	if (c->no_new_privs)
		check(a, sys_call5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), CKPT_CREDS_NO_NEW_PRIVS);
}
