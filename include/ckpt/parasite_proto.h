/* The protocol between compel (the host) and the parasite blob it injects
 * (pie/parasite/).  Plain C, compiled into both sides; every layout is pinned
 * by _Static_asserts here and static_asserts in compel/src/infect.cpp.
 *
 * The parasite area, mapped into the target at an address compel picks:
 *
 *   +0                        blob (PARASITE_ENTRY_OFFSET)
 *   +blob size, page aligned  struct parasite_args (PARASITE_ARGS_SIZE bytes)
 *   +... + PARASITE_ARGS_SIZE the parasite's stack (PARASITE_STACK_SIZE bytes)
 *
 * Only the process's main thread (its first live thread if the main thread
 * has exited) runs parasite code.  compel starts it at the entry with
 * rdi = the args and rsp = the top of the stack; the parasite connects a
 * SOCK_SEQPACKET unix socket to compel (struct parasite_bootstrap) and then
 * serves commands: compel writes struct parasite_args, sends a struct
 * parasite_msg, and the parasite writes its results into the same struct and
 * answers with another.  No command ends in a trap.
 *
 * When the socket reports EOF or an error (compel died, or closed it), the
 * parasite jumps to its thread's cure chain: signal frames compel wrote on
 * the thread's own stack, below its red zone, that close what the parasite
 * opened, unmap the area and rt_sigreturn into the thread's own registers
 * and signal mask (compel/src/cure.h).  Every other borrowed thread only
 * ever runs single syscalls, parked on its chain between them, so the death
 * of compel at any moment leaves every thread on its way back to where it
 * was. */

#ifndef CKPT_PARASITE_PROTO_H
#define CKPT_PARASITE_PROTO_H

#include <stdint.h>

#include "ckpt/kernel_types.h"
#include "ckpt/mempolicy.h"

/* Bump on any change of the layouts or meanings below. */
#define PARASITE_PROTO_VERSION 4u

/* The entry, at offset 0 of the blob (pie/parasite/entry.c). */
#define PARASITE_ENTRY_OFFSET 0

#define PARASITE_ARGS_SIZE (64u * 1024)
#define PARASITE_STACK_SIZE (32u * 1024)

enum parasite_cmd {
	PARASITE_CMD_PROCESS_INFO = 1, /* -> parasite_process_info */
	PARASITE_CMD_TIMERS = 3,       /* ids -> parasite_timers */
	PARASITE_CMD_PIPE_OPEN = 4,    /* -> parasite_pipe */
	PARASITE_CMD_VMSPLICE = 5,     /* parasite_vmsplice ranges -> pipe */
	PARASITE_CMD_SYSCALL = 6,      /* parasite_syscall, in the main thread */
	PARASITE_CMD_AREA_POLICIES = 7, /* addresses -> parasite_area_policies */
};

struct parasite_process_info {
	struct ckpt_k_sigaction sigactions[64]; /* index = signo - 1 */
	struct ckpt_k_itimerval itimers[3];       /* ITIMER_REAL, _VIRTUAL, _PROF */
	uint32_t personality;
	uint32_t umask;
	int32_t pdeath_sig;
	int32_t dumpable;
	int32_t child_subreaper;     /* PR_GET_CHILD_SUBREAPER */
	int32_t thp_disable;         /* PR_GET_THP_DISABLE */
	int32_t membarrier;          /* MEMBARRIER_CMD_GET_REGISTRATIONS, or -errno */
	int32_t memory_merge;        /* PR_GET_MEMORY_MERGE (KSM for every area), or -errno */
};

/* One POSIX timer: the host fills id (from /proc/PID/timers), the parasite
 * the rest; ret is 0 or -errno of timer_gettime(2). */
struct parasite_timer {
	int32_t id;
	int32_t overrun;
	int64_t ret;
	uint64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

#define PARASITE_MAX_TIMERS 1024

struct parasite_timers {
	uint32_t nr;
	uint32_t pad;
	struct parasite_timer timers[PARASITE_MAX_TIMERS];
};

/* A pipe made inside the target for PARASITE_CMD_VMSPLICE; the host takes
 * its read end with pidfd_getfd(2).  Both ends stay open in the target
 * until the cure (so a dead host means a full pipe, never SIGPIPE), and
 * the parasite writes their numbers into its cure chain at once. */
struct parasite_pipe {
	int32_t rfd, wfd; /* out */
};

struct parasite_iov {
	uint64_t base, len;
};

#define PARASITE_MAX_IOVS 4000

/* vmsplice(2) every range, in order, into wfd; waits while the pipe is full
 * (the host drains it meanwhile), but gives up with -ECONNRESET as soon as
 * the control socket has anything to say (EOF: the host is gone).
 * spliced counts the bytes moved even when ret reports an error. */
struct parasite_vmsplice {
	int32_t wfd;
	uint32_t nr;
	uint64_t spliced;
	struct parasite_iov iov[PARASITE_MAX_IOVS];
};

/* The NUMA memory policy of the area at each addr (get_mempolicy(2) with
 * MPOL_F_ADDR): its own, or MPOL_DEFAULT if it has none; ret 0 or -errno. */
struct parasite_area_policy {
	uint64_t addr;  /* host */
	int32_t ret;
	uint32_t pad;
	struct ckpt_mempolicy policy;
};

#define PARASITE_MAX_AREA_POLICIES 400

struct parasite_area_policies {
	uint32_t nr;
	uint32_t pad;
	struct parasite_area_policy areas[PARASITE_MAX_AREA_POLICIES];
};

/* Any syscall, made by the main thread: ret is its raw result. */
struct parasite_syscall {
	int64_t nr;
	uint64_t args[6];
};

/* Written by the host before the thread first enters the parasite. */
struct parasite_bootstrap {
	uint64_t chain_sp;      /* rsp that makes sigreturn_gadget run the chain */
	uint64_t sigreturn_gadget;
	/* Where the chain keeps the fd each of its close() frames closes (the
	 * frame's rdi), 0 for none: the control socket, the pipe's ends. */
	uint64_t socket_slot;
	uint64_t pipe_slots[2];
	uint32_t addr_len;      /* of addr: sun_family + an abstract name */
	uint32_t pad;
	uint8_t addr[110];      /* struct sockaddr_un */
};

/* One message on the control socket, either way. */
struct parasite_msg {
	uint32_t cmd;   /* host: enum parasite_cmd; parasite: the same */
	uint32_t seq;   /* host: a fresh number; parasite: the same */
	int64_t ret;    /* parasite: args->ret; for the greeting, its socket fd */
};

struct parasite_args {
	uint32_t version;       /* host: PARASITE_PROTO_VERSION */
	uint32_t cmd;           /* host: enum parasite_cmd */
	int64_t ret;            /* parasite: 0 (or a count) or -errno */
	uint32_t reply_version; /* parasite: its PARASITE_PROTO_VERSION */
	uint32_t failed_line;   /* parasite: source line of the failing step */
	union {
		struct parasite_process_info process_info;
		struct parasite_timers timers;
		struct parasite_pipe pipe;
		struct parasite_vmsplice vmsplice;
		struct parasite_syscall syscall;
		struct parasite_bootstrap bootstrap;
		struct parasite_area_policies area_policies;
	} u;
};

#define PARASITE_ARGS_HEADER_SIZE 24

#ifndef __cplusplus
_Static_assert(sizeof(struct parasite_args) <= PARASITE_ARGS_SIZE, "parasite args overflow their area");
_Static_assert(__builtin_offsetof(struct parasite_args, u) == PARASITE_ARGS_HEADER_SIZE, "parasite args header");
_Static_assert(sizeof(struct parasite_msg) == 16, "parasite message");
_Static_assert(sizeof(struct parasite_bootstrap) == 160, "parasite bootstrap");
#endif

#endif
