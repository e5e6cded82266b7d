/* Moving memory out: a pipe inside the target whose read end compel
 * takes, and vmsplice(2) of ranges into it.  The cure closes both ends. */
#include <asm-generic/poll.h>
#include <linux/fcntl.h>

#define PARASITE_SPLICE_F_NONBLOCK 0x02 /* <fcntl.h> of libc only */

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

/* Waits until the pipe has room again; -ECONNRESET as soon as the control
 * socket is readable (compel would only speak again after the reply, so
 * that is its EOF) or fails. */
static long wait_for_room(int wfd, int sock)
{
	struct pollfd fds[2] = {{wfd, POLLOUT, 0}, {sock, POLLIN, 0}};
	long r = sys_call3(__NR_poll, fds, 2, -1);
	if (r == -EINTR)
		return 0;
	if (r < 0)
		return r;
	if (fds[1].revents)
		return -ECONNRESET;
	return 0;
}

long parasite_vmsplice(struct parasite_vmsplice *v, int sock)
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
		long r = sys_call4(__NR_vmsplice, v->wfd, &iov[i], n, PARASITE_SPLICE_F_NONBLOCK);
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN) {
			r = wait_for_room(v->wfd, sock);
			if (r < 0)
				return r;
			continue;
		}
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
