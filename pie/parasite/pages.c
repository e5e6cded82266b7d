/* Moving memory out and cleaning up: a pipe inside the target whose read end
 * compel takes, vmsplice(2) of ranges into it, and FINI closing both ends. */
#include <linux/fcntl.h>

#include "pie.h"
#include "parasite.h"

#define VMSPLICE_MAX_IOV 1024 /* UIO_MAXIOV */

long parasite_pipe_open(struct parasite_args *args, struct parasite_pipe *p)
{
	int fds[2];
	long r = sys_call2(__NR_pipe2, fds, O_CLOEXEC);
	if (r < 0)
		return PARASITE_FAIL(args, r);
	p->rfd = fds[0];
	p->wfd = fds[1];
	return 0;
}

long parasite_vmsplice(struct parasite_vmsplice *v)
{
	struct parasite_iov *iov = v->iov;
	uint32_t i = 0;

	v->spliced = 0;
	if (v->nr > PARASITE_MAX_IOVS)
		return -E2BIG;
	while (i < v->nr) {
		if (iov[i].len == 0) {
			i++;
			continue;
		}
		uint32_t n = v->nr - i;
		if (n > VMSPLICE_MAX_IOV)
			n = VMSPLICE_MAX_IOV;
		long r = sys_call4(__NR_vmsplice, v->wfd, &iov[i], n, 0);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		v->spliced += (uint64_t)r;
		/* Step over what went in; a range may have gone in partly. */
		while (r > 0) {
			if ((uint64_t)r >= iov[i].len) {
				r -= (long)iov[i].len;
				iov[i].len = 0;
				i++;
			} else {
				iov[i].base += (uint64_t)r;
				iov[i].len -= (uint64_t)r;
				r = 0;
			}
		}
	}
	return 0;
}

long parasite_fini(struct parasite_fini *f)
{
	long ret = 0;
	for (int i = 0; i < 2; i++) {
		if (f->fds[i] < 0)
			continue;
		long r = sys_call1(__NR_close, f->fds[i]);
		if (r < 0)
			ret = r;
	}
	return ret;
}
