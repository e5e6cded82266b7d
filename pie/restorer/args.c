/* Reading what ckpt built: the header, then each section in turn.  Nothing
 * is trusted to fit: a section that overruns the whole, an array whose size
 * is not its count of elements, or a missing process section stops the blob
 * before it touches anything (CKPT_STEP_VERSION, arg0 = the tag). */
#include "restorer.h"

static void bad(struct ckpt_restorer_args *a, uint32_t tag, uint64_t size)
{
	restorer_fail(a, CKPT_STEP_VERSION, -22 /* EINVAL */, tag, size);
}

static struct ckpt_restorer_section *first_section(struct ckpt_restorer_args *a)
{
	return (struct ckpt_restorer_section *)((char *)a + a->header_size);
}

static struct ckpt_restorer_section *next_section(struct ckpt_restorer_section *s)
{
	return (struct ckpt_restorer_section *)((char *)(s + 1) + s->size);
}

static void *payload(struct ckpt_restorer_section *s)
{
	return s + 1;
}

/* An array section: exactly count elements of elem bytes (padded to 8). */
static void *array(struct ckpt_restorer_args *a, struct ckpt_restorer_section *s, uint64_t elem, uint32_t *count)
{
	if (((s->count * elem + 7) & ~7ull) != s->size)
		bad(a, s->tag, s->size);
	*count = s->count;
	return payload(s);
}

static uint64_t thread_bytes(const struct ckpt_restorer_thread *t)
{
	uint64_t groups = ((uint64_t)t->creds.ngroups * 4 + 7) & ~7ull;
	return sizeof(*t) + groups + (uint64_t)t->nr_pending * sizeof(struct ckpt_restorer_siginfo);
}

/* A SECCOMP section: its header, then exactly nr_filters filters, each a
 * header and 1 to BPF_MAXINSNS (4096) instructions, tiling the section.
 * TSYNC would give the chain to every thread: never. */
static int seccomp_fits(const struct ckpt_restorer_section *s)
{
	const struct ckpt_restorer_seccomp *h = (const struct ckpt_restorer_seccomp *)(s + 1);
	if (s->size < sizeof(*h) || h->nr_filters != s->count || h->nr_filters == 0)
		return 0;
	uint64_t at = sizeof(*h);
	for (uint32_t i = 0; i < h->nr_filters; i++) {
		if (s->size - at < sizeof(struct ckpt_restorer_seccomp_filter))
			return 0;
		const struct ckpt_restorer_seccomp_filter *f =
			(const struct ckpt_restorer_seccomp_filter *)((const char *)h + at);
		at += sizeof(*f);
		if (f->len == 0 || f->len > 4096 || (s->size - at) / sizeof(struct ckpt_sock_filter) < f->len ||
		    (f->flags & 1u /* SECCOMP_FILTER_FLAG_TSYNC */))
			return 0;
		at += (uint64_t)f->len * sizeof(struct ckpt_sock_filter);
	}
	return at == s->size;
}

static int32_t seccomp_tid(const struct ckpt_restorer_section *s)
{
	return ((const struct ckpt_restorer_seccomp *)(s + 1))->tid;
}

/* Each SECCOMP section names a thread of the process, and no thread has
 * two (the sections tile the args: the walks end). */
static void check_seccomp_owners(struct ckpt_restorer_args *a)
{
	char *end = (char *)a + a->total_size;
	for (struct ckpt_restorer_section *s = first_section(a); (char *)s < end; s = next_section(s)) {
		if (s->tag != CKPT_SECTION_SECCOMP)
			continue;
		int32_t tid = seccomp_tid(s);
		struct ckpt_restorer_thread *t = restorer_next_thread(a, 0);
		while (t && t->tid != tid)
			t = restorer_next_thread(a, t);
		if (!t)
			bad(a, s->tag, (uint64_t)(uint32_t)tid);
		for (struct ckpt_restorer_section *o = first_section(a); o != s; o = next_section(o))
			if (o->tag == CKPT_SECTION_SECCOMP && seccomp_tid(o) == tid)
				bad(a, s->tag, (uint64_t)(uint32_t)tid);
	}
}

void restorer_read_args(struct ckpt_restorer_args *a, struct restorer_view *v)
{
	if (a->magic != CKPT_RESTORER_ARGS_MAGIC || a->version != CKPT_RESTORER_ARGS_VERSION ||
	    a->header_size != sizeof(*a) || a->total_size < a->header_size)
		restorer_fail(a, CKPT_STEP_VERSION, -22, a->version, a->header_size);
	memset(v, 0, sizeof(*v));
	v->a = a;
	char *end = (char *)a + a->total_size;
	uint32_t threads = 0, n;
	struct ckpt_restorer_section *s = first_section(a);
	for (uint32_t i = 0; i < a->nr_sections; i++, s = next_section(s)) {
		if ((char *)(s + 1) > end || s->size % 8 || s->size > (uint64_t)(end - (char *)(s + 1)))
			bad(a, s->tag, s->size);
		switch (s->tag) {
		case CKPT_SECTION_PAD:
		case CKPT_SECTION_FRAME:
			break;
		case CKPT_SECTION_PROCESS:
			if (s->size != sizeof(*v->proc) || v->proc)
				bad(a, s->tag, s->size);
			v->proc = payload(s);
			break;
		case CKPT_SECTION_AUXV:
			v->auxv = array(a, s, 8, &v->nr_auxv);
			break;
		case CKPT_SECTION_VDSO:
			v->vdso = array(a, s, sizeof(*v->vdso), &v->nr_vdso);
			break;
		case CKPT_SECTION_VDSO_PROXY:
			v->vdso_proxy = array(a, s, 1, &n);
			v->vdso_proxy_size = n;
			break;
		case CKPT_SECTION_VMAS:
			v->vmas = array(a, s, sizeof(*v->vmas), &v->nr_vmas);
			break;
		case CKPT_SECTION_RUNS:
			v->runs = array(a, s, sizeof(*v->runs), &v->nr_runs);
			break;
		case CKPT_SECTION_RLIMITS:
			v->rlimits = array(a, s, sizeof(*v->rlimits), &v->nr_rlimits);
			break;
		case CKPT_SECTION_SIGACTIONS:
			v->sigactions = array(a, s, sizeof(*v->sigactions), &n);
			if (n != CKPT_RESTORER_NSIG)
				bad(a, s->tag, s->size);
			break;
		case CKPT_SECTION_SHARED_PENDING:
			v->shared_pending = array(a, s, sizeof(*v->shared_pending), &v->nr_shared_pending);
			break;
		case CKPT_SECTION_POSIX_TIMERS:
			v->timers = array(a, s, sizeof(*v->timers), &v->nr_timers);
			break;
		case CKPT_SECTION_PAGE_FILES:
			v->page_files = array(a, s, sizeof(*v->page_files), &v->nr_page_files);
			break;
		case CKPT_SECTION_KEEP:
			v->keep = array(a, s, sizeof(*v->keep), &v->nr_keep);
			break;
		case CKPT_SECTION_GUARDS:
			v->guards = array(a, s, sizeof(*v->guards), &v->nr_guards);
			break;
		case CKPT_SECTION_THREAD_PRCTL:
			v->thread_prctl = array(a, s, sizeof(*v->thread_prctl), &v->nr_thread_prctl);
			break;
		case CKPT_SECTION_VMA_MEMPOLICY:
			v->vma_mempolicy = array(a, s, sizeof(*v->vma_mempolicy), &v->nr_vma_mempolicy);
			break;
		case CKPT_SECTION_THREAD_MEMPOLICY:
			v->thread_mempolicy = array(a, s, sizeof(*v->thread_mempolicy), &v->nr_thread_mempolicy);
			break;
		case CKPT_SECTION_THREAD:
			if (s->size < sizeof(struct ckpt_restorer_thread) ||
			    thread_bytes(payload(s)) > s->size)
				bad(a, s->tag, s->size);
			threads++;
			break;
		case CKPT_SECTION_SECCOMP:
			if (!seccomp_fits(s))
				bad(a, s->tag, s->size);
			v->nr_seccomp++;
			break;
		default:
			bad(a, s->tag, s->size); /* a kind this blob does not know */
		}
	}
	if ((char *)s != end)
		bad(a, CKPT_SECTION_COUNT, a->total_size);
	if (!v->proc || !v->sigactions || threads != a->nr_threads || threads == 0)
		bad(a, CKPT_SECTION_COUNT, threads);
	if (v->nr_seccomp)
		check_seccomp_owners(a);
}

/* The sections tile the args exactly (checked once above), so the walk
 * stops at the end. */
struct ckpt_restorer_thread *restorer_next_thread(struct ckpt_restorer_args *a, struct ckpt_restorer_thread *prev)
{
	char *end = (char *)a + a->total_size;
	struct ckpt_restorer_section *s = prev ? next_section((struct ckpt_restorer_section *)prev - 1) : first_section(a);
	for (; (char *)s < end; s = next_section(s))
		if (s->tag == CKPT_SECTION_THREAD)
			return payload(s);
	return 0;
}

const uint32_t *restorer_thread_groups(const struct ckpt_restorer_thread *t)
{
	return (const uint32_t *)(t + 1);
}

const struct ckpt_restorer_siginfo *restorer_thread_pending(const struct ckpt_restorer_thread *t)
{
	uint64_t groups = ((uint64_t)t->creds.ngroups * 4 + 7) & ~7ull;
	return (const struct ckpt_restorer_siginfo *)((const char *)(t + 1) + groups);
}

const struct ckpt_restorer_seccomp *restorer_thread_seccomp(const struct restorer_view *v, int32_t tid)
{
	if (!v->nr_seccomp)
		return 0;
	struct ckpt_restorer_args *a = v->a;
	char *end = (char *)a + a->total_size;
	for (struct ckpt_restorer_section *s = first_section(a); (char *)s < end; s = next_section(s))
		if (s->tag == CKPT_SECTION_SECCOMP && seccomp_tid(s) == tid)
			return payload(s);
	return 0;
}
