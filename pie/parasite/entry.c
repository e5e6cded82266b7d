/* The parasite's entry and command dispatch.  compel points a stopped thread
 * at the entry with rdi = struct parasite_args and rsp = the top of the
 * parasite stack; the command runs and the int3 after the call hands control
 * back to compel (see include/ckpt/parasite_proto.h). */
#include "pie.h"
#include "parasite.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The layout below is part of the protocol: the entry at offset 0, its int3
 * right after the 5-byte call, and a syscall gadget for compel's remote
 * syscalls at PARASITE_SYSCALL_OFFSET. */
__asm__(".section .text.entry,\"ax\",@progbits\n"
	".globl blob_entry\n"
	".type blob_entry,@function\n"
	"blob_entry:\n"
	"	call parasite_dispatch\n"
	"	int3\n"
	"	.org blob_entry + " STR(PARASITE_SYSCALL_OFFSET) ", 0xcc\n"
	"	syscall\n"
	"	int3\n"
	"	.org blob_entry + 32, 0xcc\n"
	".previous\n");

void parasite_dispatch(struct parasite_args *args) __attribute__((used));

void parasite_dispatch(struct parasite_args *args)
{
	args->reply_version = PARASITE_PROTO_VERSION;
	args->failed_line = 0;
	if (args->version != PARASITE_PROTO_VERSION) {
		args->ret = -EPROTO;
		return;
	}
	switch (args->cmd) {
	case PARASITE_CMD_PROCESS_INFO:
		args->ret = parasite_process_info(args, &args->u.process_info);
		break;
	case PARASITE_CMD_TIMERS:
		args->ret = parasite_timers(&args->u.timers);
		break;
	case PARASITE_CMD_PIPE_OPEN:
		args->ret = parasite_pipe_open(args, &args->u.pipe);
		break;
	case PARASITE_CMD_VMSPLICE:
		args->ret = parasite_vmsplice(&args->u.vmsplice);
		break;
	case PARASITE_CMD_AREA_POLICIES:
		args->ret = parasite_area_policies(&args->u.area_policies);
		break;
	case PARASITE_CMD_FINI:
		args->ret = parasite_fini(&args->u.fini);
		break;
	default:
		args->ret = -ENOSYS;
	}
}
