/* The parasite's entry and its command loop.  compel starts the main
 * thread at the entry with rdi = struct parasite_args (holding the
 * bootstrap) and rsp = the top of the parasite stack; the parasite connects
 * to compel, serves commands until its socket reports EOF or an error, and
 * then leaves through the thread's cure chain (include/ckpt/parasite_proto.h).
 * It never returns and never traps. */
#include <asm-generic/poll.h>
#include <linux/fcntl.h>

#include "pie.h"
#include "parasite.h"

#define PARASITE_AF_UNIX 1
#define PARASITE_SOCK_SEQPACKET 5
#define PARASITE_MSG_NOSIGNAL 0x4000

void parasite_daemon(struct parasite_args *args) __attribute__((used, noreturn));

/* The layout is part of the protocol: the entry at offset 0. */
__asm__(".section .text.entry,\"ax\",@progbits\n"
	".globl blob_entry\n"
	".type blob_entry,@function\n"
	"blob_entry:\n"
	"	call parasite_daemon\n"
	"	ud2\n"
	".previous\n");

/* Runs the cure chain: the sigreturn gadget (outside the area) takes the
 * frame at chain_sp - 8, and each frame's syscall hands on to the next. */
static void __attribute__((noreturn)) leave(const struct parasite_bootstrap *b)
{
	__asm__ volatile("mov %0, %%rsp\n"
			 "jmp *%1\n"
			 :
			 : "r"(b->chain_sp), "r"(b->sigreturn_gadget)
			 : "memory");
	__builtin_unreachable();
}

static void note_fd(uint64_t slot, long fd)
{
	if (slot)
		*(volatile int64_t *)slot = fd;
}

static long dispatch(struct parasite_args *args, int sock)
{
	args->reply_version = PARASITE_PROTO_VERSION;
	args->failed_line = 0;
	if (args->version != PARASITE_PROTO_VERSION)
		return -EPROTO;
	switch (args->cmd) {
	case PARASITE_CMD_PROCESS_INFO:
		return parasite_process_info(args, &args->u.process_info);
	case PARASITE_CMD_TIMERS:
		return parasite_timers(&args->u.timers);
	case PARASITE_CMD_PIPE_OPEN:
		return parasite_pipe_open(args, &args->u.pipe);
	case PARASITE_CMD_VMSPLICE:
		return parasite_vmsplice(&args->u.vmsplice, sock);
	case PARASITE_CMD_AREA_POLICIES:
		return parasite_area_policies(&args->u.area_policies);
	case PARASITE_CMD_SYSCALL: {
		const struct parasite_syscall *c = &args->u.syscall;
		return sys_call6(c->nr, c->args[0], c->args[1], c->args[2], c->args[3], c->args[4], c->args[5]);
	}
	}
	return -ENOSYS;
}

static int send_msg(int sock, uint32_t cmd, uint32_t seq, int64_t ret)
{
	struct parasite_msg m = {cmd, seq, ret};
	long r;
	do
		r = sys_call6(__NR_sendto, sock, (long)&m, sizeof(m), PARASITE_MSG_NOSIGNAL, 0, 0);
	while (r == -EINTR);
	return r == sizeof(m);
}

void parasite_daemon(struct parasite_args *args)
{
	/* The bootstrap is overwritten by the first command: keep a copy. */
	struct parasite_bootstrap b = args->u.bootstrap;
	long sock = sys_call3(__NR_socket, PARASITE_AF_UNIX, PARASITE_SOCK_SEQPACKET | O_CLOEXEC, 0);
	if (sock < 0)
		leave(&b);
	note_fd(b.socket_slot, sock);
	long r;
	do
		r = sys_call3(__NR_connect, sock, b.addr, b.addr_len);
	while (r == -EINTR);
	if (r < 0 || !send_msg((int)sock, 0, 0, sock))
		leave(&b);
	for (;;) {
		struct parasite_msg m;
		r = sys_call6(__NR_recvfrom, sock, (long)&m, sizeof(m), 0, 0, 0);
		if (r == -EINTR)
			continue;
		if (r != sizeof(m))
			break; /* EOF: compel is gone */
		args->ret = dispatch(args, (int)sock);
		if (args->cmd == PARASITE_CMD_PIPE_OPEN && args->ret == 0) {
			note_fd(b.pipe_slots[0], args->u.pipe.rfd);
			note_fd(b.pipe_slots[1], args->u.pipe.wfd);
		}
		if (!send_msg((int)sock, m.cmd, m.seq, args->ret))
			break;
	}
	leave(&b);
}
