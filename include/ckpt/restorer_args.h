/* What ckpt hands the restorer blob: one plain-C structure at a fixed place in
 * the restorer area, followed by the arrays it points at (by offset from the
 * structure, so that the blob needs no relocation).  Compiled into both the
 * host (C++) and the freestanding blob (C); the host checks the layout with
 * static_asserts (src/restore/args_layout.cpp) and stamps the version, which
 * the blob refuses to run without.
 *
 * The restorer area is one MAP_SHARED anonymous mapping made by ckpt before
 * it creates the task, so ckpt sees what the blob writes into `status`:
 *
 *   [ blob code+data | args + arrays + rt_sigframe | stack | vDSO parking ]
 *
 * Only fixed-size integer types: the same bytes mean the same on both sides. */
#ifndef CKPT_RESTORER_ARGS_H
#define CKPT_RESTORER_ARGS_H

#include <stdint.h>

#define CKPT_RESTORER_ARGS_VERSION 3u
#define CKPT_RESTORER_ARGS_MAGIC 0x52535452u /* "RSTR" */

/* Distinctive exit code of a task whose blob gave up; the reason is in
 * args->status.  */
#define CKPT_RESTORER_EXIT_FAILED 87
/* Exit code of ckpt's child when it failed before jumping to the blob. */
#define CKPT_RESTORER_EXIT_CHILD_FAILED 86

#define CKPT_RESTORER_MAX_VDSO_PARTS 4
#define CKPT_RESTORER_MAX_IO_WORKERS 2

/* io_flags: fault each run's pages in (MADV_POPULATE_WRITE) before reading
 * into them, rather than one fault at a time inside the copy. */
#define CKPT_IO_PREFAULT 0x1
/* io_flags: runs marked CKPT_RUN_UFFD are filled with UFFDIO_COPY from a
 * mapping of the pages file (no zeroing of fresh pages, no copy fault per
 * page); without userfaultfd the blob reads them like the others. */
#define CKPT_IO_UFFD 0x2
/* io_flags: read by native AIO (an O_DIRECT image); else pread, since
 * buffered AIO is synchronous in io_submit and io_destroy is slow. */
#define CKPT_IO_AIO 0x4

/* ckpt_restorer_run.flags */
#define CKPT_RUN_UFFD 0x1
#define CKPT_RESTORER_MAX_RLIMITS 16
#define CKPT_RESTORER_MAX_AUXV 128 /* u64 words */
#define CKPT_RESTORER_MAX_GROUPS 64
#define CKPT_RESTORER_NSIG 64
#define CKPT_RESTORER_MESSAGE_SIZE 1024

/* How far the task got; ckpt reads it after the task stopped or died. */
enum ckpt_restorer_phase {
	CKPT_PHASE_CHILD = 0,   /* ckpt's C++ code in the new task */
	CKPT_PHASE_BLOB = 1,    /* the blob runs */
	CKPT_PHASE_FAILED = 2,  /* the blob gave up: step/ret/arg say why */
	CKPT_PHASE_SIGRETURN = 3, /* everything is in place; int3, then rt_sigreturn */
};

/* The blob step that failed (see restore/blob_errors.cpp for the sentences). */
enum ckpt_restorer_step {
	CKPT_STEP_NONE = 0,
	CKPT_STEP_VERSION,        /* args version or magic mismatch */
	CKPT_STEP_RSEQ_UNREGISTER,
	CKPT_STEP_VDSO_PARK,      /* arg0 = from, arg1 = to */
	CKPT_STEP_UNMAP,          /* arg0-arg1 = range */
	CKPT_STEP_MMAP,           /* arg0-arg1 = target area */
	CKPT_STEP_VDSO_MOVE,      /* arg0 = from, arg1 = to */
	CKPT_STEP_AIO_SETUP,
	CKPT_STEP_AIO_SUBMIT,     /* arg0 = address, arg1 = length */
	CKPT_STEP_AIO_READ,       /* arg0 = address, arg1 = length; ret = result */
	CKPT_STEP_MPROTECT,       /* arg0-arg1 */
	CKPT_STEP_MADVISE,        /* arg0-arg1 */
	CKPT_STEP_PERSONALITY,
	CKPT_STEP_MM_MAP,         /* prctl(PR_SET_MM_MAP) */
	CKPT_STEP_SIGACTION,      /* arg0 = signo */
	CKPT_STEP_RLIMIT,         /* arg0 = resource */
	CKPT_STEP_ROBUST_LIST,
	CKPT_STEP_RSEQ_REGISTER,  /* arg0 = address */
	CKPT_STEP_PDEATHSIG,
	CKPT_STEP_DUMPABLE,
	CKPT_STEP_CREDS,          /* arg0 = which call (enum below) */
	CKPT_STEP_SIGQUEUE,       /* arg0 = signo */
	CKPT_STEP_ITIMER,         /* arg0 = which */
	CKPT_STEP_FS_BASE,
	CKPT_STEP_CLOSE_FDS,
	CKPT_STEP_UFFD_COPY,      /* arg0 = address, arg1 = length */
	CKPT_STEP_PAGES_MAP,      /* mapping the pages file for UFFDIO_COPY */
	CKPT_STEP_POSIX_TIMER,    /* arg0 = timer id, arg1 = which call (enum below) */
	CKPT_STEP_SHMAT,          /* arg0-arg1 = target area; shmat of its SysV segment */
	CKPT_STEP_COUNT
};

enum ckpt_restorer_creds_call {
	CKPT_CREDS_BOUNDING = 1, CKPT_CREDS_KEEPCAPS, CKPT_CREDS_GROUPS, CKPT_CREDS_GIDS,
	CKPT_CREDS_UIDS, CKPT_CREDS_CAPSET, CKPT_CREDS_AMBIENT, CKPT_CREDS_SECUREBITS,
	CKPT_CREDS_NO_NEW_PRIVS,
};

enum ckpt_restorer_timer_call {
	CKPT_TIMER_RESTORE_IDS = 1, /* prctl(PR_TIMER_CREATE_RESTORE_IDS) */
	CKPT_TIMER_CREATE,          /* timer_create */
	CKPT_TIMER_WRONG_ID,        /* timer_create gave another id (ret = that id) */
	CKPT_TIMER_DELETE,          /* timer_delete of a filler (no id restore) */
	CKPT_TIMER_SETTIME,         /* timer_settime */
};

/* Written by the blob (and by ckpt's child for its own failures); ckpt
 * reads it from its side of the shared mapping. */
struct ckpt_restorer_status {
	volatile uint32_t phase;  /* enum ckpt_restorer_phase */
	uint32_t step;            /* enum ckpt_restorer_step */
	int64_t ret;              /* the failing call's result, -errno */
	uint64_t arg0, arg1;
	uint64_t pages_ns;        /* how long reading the pages took (CLOCK_MONOTONIC) */
	char message[CKPT_RESTORER_MESSAGE_SIZE]; /* the child's error sentence */
};

/* One memory area of the target. */
struct ckpt_restorer_vma {
	uint64_t start, end;
	uint64_t pgoff;           /* bytes into the file */
	uint32_t prot;            /* final PROT_* */
	uint32_t map_flags;       /* MAP_PRIVATE|MAP_SHARED|MAP_ANONYMOUS|MAP_GROWSDOWN... (no MAP_FIXED) */
	int32_t fd;               /* helper fd of the file, -1 for anonymous memory */
	uint16_t write_first;     /* pages are read in: map writable, mprotect after */
	uint16_t uffd;            /* some runs fill it by UFFDIO_COPY: register it */
	uint64_t madv;            /* bit n set: madvise(start, len, n) */
	/* A SysV segment is attached (shmat, SHM_RDONLY without PROT_WRITE,
	 * SHM_EXEC with PROT_EXEC) rather than mapped: shm_attach 1 and its id
	 * (-1 for none; 0 is a valid id, hence the flag). */
	int32_t shmid;
	uint32_t shm_attach;
};

/* A run of pages: [vaddr, vaddr+len) comes from the pages file at offset;
 * it lies inside one area. */
struct ckpt_restorer_run {
	uint64_t vaddr, len, offset;
	uint32_t flags;           /* CKPT_RUN_* */
	uint32_t pad;
};

/* A vDSO part ([vvar], [vvar_vclock], [vdso]) of ckpt's task: parked inside
 * the area while ckpt is unmapped, then moved where the target had it
 * (target 0: the target had none; it stays parked and goes with the area). */
struct ckpt_restorer_vdso_part {
	uint64_t cur, size, park, target;
};

struct ckpt_restorer_sigaction {   /* the kernel's struct sigaction, x86_64 */
	uint64_t handler, flags, restorer, mask;
};

struct ckpt_restorer_siginfo {
	int32_t signo;
	uint32_t shared;          /* process-wide (rt_sigqueueinfo) or the thread's */
	uint8_t raw[128];         /* siginfo_t */
};

struct ckpt_restorer_itimer {
	uint64_t interval_sec, interval_usec, value_sec, value_usec;
};

/* A POSIX timer, recreated with its id (the array is sorted by id). */
struct ckpt_restorer_posix_timer {
	int32_t id;
	int32_t clock_id;
	int32_t notify;           /* SIGEV_*, with SIGEV_THREAD_ID */
	int32_t signo;
	int32_t notify_tid;       /* SIGEV_THREAD_ID: the thread signalled */
	uint32_t pad;
	uint64_t sigval;
	uint64_t interval_sec, interval_nsec, value_sec, value_nsec; /* value 0: disarmed */
};

struct ckpt_restorer_rlimit {
	uint32_t resource, pad;
	uint64_t cur, max;
};

struct ckpt_restorer_creds {
	uint32_t present;         /* 0: keep ckpt's (the target had the same) */
	uint32_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	uint32_t ngroups;
	uint32_t groups[CKPT_RESTORER_MAX_GROUPS];
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t securebits;
	uint32_t no_new_privs;
	uint32_t last_cap;        /* highest capability number of this kernel */
	uint32_t pad;
};

/* The mm fields of prctl(PR_SET_MM_MAP); auxv is inline. */
struct ckpt_restorer_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint32_t auxv_words;      /* u64 words used in auxv */
	int32_t exe_fd;           /* -1: leave /proc/PID/exe alone */
	uint64_t auxv[CKPT_RESTORER_MAX_AUXV];
};

struct ckpt_restorer_rseq {
	uint64_t ptr;             /* 0: none */
	uint32_t len, sig;
};

struct ckpt_restorer_args {
	uint32_t magic;           /* CKPT_RESTORER_ARGS_MAGIC */
	uint32_t version;         /* CKPT_RESTORER_ARGS_VERSION */
	uint32_t size;            /* sizeof(struct ckpt_restorer_args) */
	int32_t pid;              /* the task's pid, for rt_sigqueueinfo */

	struct ckpt_restorer_status status;

	/* The area and the address space it lives in. */
	uint64_t area_start, area_end;
	uint64_t task_size;       /* top of user space: ckpt is unmapped up to here */

	/* ckpt's own rseq registration, undone before ckpt's memory goes
	 * (filled by ckpt from PTRACE_GET_RSEQ_CONFIGURATION). */
	struct ckpt_restorer_rseq ckpt_rseq;

	uint32_t nr_vdso_parts, pad0;
	struct ckpt_restorer_vdso_part vdso[CKPT_RESTORER_MAX_VDSO_PARTS];
	/* Only when the vDSO differs from the dumped one: vdso_proxy_size bytes
	 * at vdso_proxy_off from the args (jumps into the moved vDSO) are copied
	 * to vdso_proxy_addr, the dumped [vdso], which is among the vmas
	 * (write_first).  0 bytes: no proxy. */
	uint64_t vdso_proxy_off, vdso_proxy_addr, vdso_proxy_size;

	/* Memory. */
	uint64_t vmas_off;        /* struct ckpt_restorer_vma[nr_vmas] */
	uint32_t nr_vmas;
	int32_t pages_fd;         /* -1: no pages */
	uint64_t pages_size;      /* bytes of the pages file */
	uint64_t runs_off;        /* struct ckpt_restorer_run[nr_runs] */
	uint32_t nr_runs;
	uint32_t aio_batch;       /* iocbs submitted at once */
	uint32_t io_workers;      /* threads reading pages (1: the blob alone) */
	uint32_t io_flags;        /* CKPT_IO_* */
	uint64_t worker_stack_top; /* stack of the second reader */

	struct ckpt_restorer_mm mm;
	uint32_t personality;
	int32_t pdeath_sig;
	int32_t dumpable;         /* -1: leave */
	uint32_t nr_rlimits;
	struct ckpt_restorer_rlimit rlimits[CKPT_RESTORER_MAX_RLIMITS];

	/* Signals. */
	struct ckpt_restorer_sigaction sigactions[CKPT_RESTORER_NSIG]; /* index signo-1 */
	uint64_t pending_off;     /* struct ckpt_restorer_siginfo[nr_pending] */
	uint32_t nr_pending;
	uint32_t pad1;
	struct ckpt_restorer_itimer itimers[3]; /* ITIMER_REAL, _VIRTUAL, _PROF */
	uint64_t timers_off;      /* struct ckpt_restorer_posix_timer[nr_timers] */
	uint32_t nr_timers;
	uint32_t pad3;

	/* The thread. */
	uint64_t clear_child_tid;
	uint64_t robust_list;     /* 0: none */
	uint64_t robust_list_len;
	struct ckpt_restorer_rseq rseq;
	uint64_t fs_base, gs_base;
	struct ckpt_restorer_creds creds;

	/* Helper fds (pages, mapped files, exe) are all >= this; closed last. */
	int32_t helper_fd_first;
	uint32_t pad2;

	/* The prepared struct rt_sigframe: rt_sigreturn runs with
	 * rsp = sigframe + 8 (just past pretcode, as after a handler's ret). */
	uint64_t sigframe;
};

/* x86_64 signal frame, as the kernel's rt_sigreturn reads it. */
struct ckpt_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;         /* 64-byte aligned xsave/fxsave area, or 0 */
	uint64_t reserved1[8];
};

struct ckpt_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	uint32_t pad;
	uint64_t ss_size;
};

struct ckpt_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct ckpt_stack uc_stack;
	struct ckpt_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct ckpt_rt_sigframe {
	uint64_t pretcode;
	struct ckpt_ucontext uc;
	uint8_t info[128];
};

/* uc_flags bits (asm/ucontext.h). */
#define CKPT_UC_FP_XSTATE 0x1
#define CKPT_UC_SIGCONTEXT_SS 0x2
#define CKPT_UC_STRICT_RESTORE_SS 0x4

#endif
