/* What ckpt hands the restorer blob: a small versioned header followed by
 * tagged, length-prefixed sections, one for the process and one per thread,
 * plus one per array of the process (areas, page runs, signal actions,
 * timers ...).  Nothing has a fixed per-kind limit: a section is as long as
 * its content, and a kind added later is a new tag.
 *
 * Built once, in ordinary C++ (src/restore/args_build.cpp), into the
 * restorer area; the blob only walks and reads it (pie/restorer/args.c),
 * refusing a header of another version or a section that overruns the whole.
 * Compiled into both sides; src/restore/args_layout.cpp and the blob pin the
 * layouts with static_asserts.
 *
 * The restorer area is one MAP_SHARED anonymous mapping made by ckpt before
 * it creates the task, so ckpt sees what the blob writes into `status` and
 * each thread's `phase`:
 *
 *   [ blob code+data | header + sections | stacks | vDSO parking ]
 *
 * Addresses inside the area (stacks, signal frames, parking) are offsets
 * from the area's start, so that the sections can be built before the area
 * is placed; the blob adds the start.  Only fixed-size integer types. */
#ifndef CKPT_RESTORER_ARGS_H
#define CKPT_RESTORER_ARGS_H

#include <stdint.h>

#include "ckpt/kernel_types.h"
#include "ckpt/mempolicy.h"

#define CKPT_RESTORER_ARGS_VERSION 7u
#define CKPT_RESTORER_ARGS_MAGIC 0x52535452u /* "RSTR" */

/* Distinctive exit code of a task whose blob gave up; the reason is in
 * args->status.  */
#define CKPT_RESTORER_EXIT_FAILED 87
/* Exit code of ckpt's child when it failed before jumping to the blob. */
#define CKPT_RESTORER_EXIT_CHILD_FAILED 86

#define CKPT_RESTORER_MAX_IO_WORKERS 2
/* ckpt's own vDSO parts ([vvar], [vvar_vclock], [vdso]): a sanity bound on
 * this kernel, not on the target. */
#define CKPT_RESTORER_MAX_VDSO_PARTS 4
#define CKPT_RESTORER_NSIG 64
#define CKPT_RESTORER_MESSAGE_SIZE 1024
/* The stack of each thread the blob creates (the main thread's is larger:
 * it also carries the second page reader's). */
#define CKPT_RESTORER_THREAD_STACK (16u * 1024)

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
/* The run's pages are in another process's pages image (shared with it
 * since fork, stored once): the run's fd, one of the PAGE_FILES section,
 * read by pread or AIO, or with CKPT_RUN_UFFD by UFFDIO_COPY from the
 * blob's mapping of it. */
#define CKPT_RUN_OTHER_FILE 0x2

/* How far the task (status.phase) or one thread (thread.phase) got; ckpt
 * reads it after the task stopped or died. */
enum ckpt_restorer_phase {
	CKPT_PHASE_CHILD = 0,   /* ckpt's C++ code in the new task */
	CKPT_PHASE_BLOB = 1,    /* the blob runs */
	CKPT_PHASE_FAILED = 2,  /* the blob gave up: step/ret/arg say why */
	CKPT_PHASE_SIGRETURN = 3, /* everything is in place; int3, then rt_sigreturn */
	CKPT_PHASE_EXITING = 4, /* a thread that had exited at dump: it exits again */
};

/* The blob step that failed (see restore/blob_errors.cpp for the sentences). */
enum ckpt_restorer_step {
	CKPT_STEP_NONE = 0,
	CKPT_STEP_VERSION,        /* header version/magic, or a bad section (arg0 = tag) */
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
	CKPT_STEP_THREAD_CREATE,  /* arg0 = tid; ret = clone3's result */
	CKPT_STEP_THREAD_NAME,    /* prctl(PR_SET_NAME) */
	CKPT_STEP_SHMAT,          /* arg0-arg1 = target area; shmat of its SysV segment */
	CKPT_STEP_SECCOMP,        /* arg0 = tid, arg1 = filter index (0 the oldest) */
	CKPT_STEP_TIMER_SLACK,    /* arg0 = tid, arg1 = nanoseconds */
	CKPT_STEP_SPECULATION,    /* arg0 = PR_SPEC_* kind, arg1 = the PR_SPEC_* state set */
	CKPT_STEP_THREAD_PRCTL,   /* arg0 = the prctl/arch_prctl option, arg1 = its value */
	CKPT_STEP_MBIND,          /* arg0-arg1 = the area; mbind(2) of its memory policy */
	CKPT_STEP_SET_MEMPOLICY,  /* arg0 = tid, arg1 = mode | flags; set_mempolicy(2) */
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
 * reads it from its side of the shared mapping.  The first thread to fail
 * claims it. */
struct ckpt_restorer_status {
	volatile uint32_t phase;  /* enum ckpt_restorer_phase */
	uint32_t step;            /* enum ckpt_restorer_step */
	int64_t ret;              /* the failing call's result, -errno */
	uint64_t arg0, arg1;
	uint64_t pages_ns;        /* how long reading the pages took (CLOCK_MONOTONIC) */
	int32_t tid;              /* the thread that failed */
	uint32_t pad;
	/* For the stats and the progress line, read by ckpt at any time: */
	uint64_t pages_done;      /* bytes of pages the blob has read so far (atomic adds) */
	uint64_t created_ns;      /* CLOCK_MONOTONIC when ckpt's code in the new task started */
	uint64_t files_ns;        /* how long ckpt's code in the task took (fds, session, task state) */
	char message[CKPT_RESTORER_MESSAGE_SIZE]; /* the child's error sentence */
};

struct ckpt_restorer_rseq {
	uint64_t ptr;             /* 0: none */
	uint32_t len, sig;
};

/* The header, at the start of the args part of the area. */
struct ckpt_restorer_args {
	uint32_t magic;           /* CKPT_RESTORER_ARGS_MAGIC */
	uint32_t version;         /* CKPT_RESTORER_ARGS_VERSION */
	uint32_t header_size;     /* sizeof(struct ckpt_restorer_args); sections follow */
	uint32_t nr_sections;
	uint64_t total_size;      /* header and every section */
	int32_t pid;              /* the process */
	uint32_t nr_threads;      /* CKPT_SECTION_THREAD sections, the main thread's first */

	struct ckpt_restorer_status status;

	/* The area and the address space it lives in. */
	uint64_t area_start, area_end;
	uint64_t task_size;       /* top of user space: ckpt is unmapped up to here */

	/* ckpt's own rseq registration, undone before ckpt's memory goes
	 * (filled by ckpt from PTRACE_GET_RSEQ_CONFIGURATION). */
	struct ckpt_restorer_rseq ckpt_rseq;

	/* Helper fds (pages, mapped files, exe) are all >= this; closed last. */
	int32_t helper_fd_first;
	uint32_t pad;
};

/* Each section: this header, then `size` bytes (a multiple of 8). */
struct ckpt_restorer_section {
	uint32_t tag;             /* enum ckpt_restorer_tag */
	uint32_t count;           /* elements, for array sections */
	uint64_t size;
};

enum ckpt_restorer_tag {
	CKPT_SECTION_PAD = 0,          /* skipped: aligns the next section */
	CKPT_SECTION_PROCESS = 1,      /* struct ckpt_restorer_process (exactly one) */
	CKPT_SECTION_AUXV = 2,         /* uint64_t[count] */
	CKPT_SECTION_VDSO = 3,         /* struct ckpt_restorer_vdso_part[count] */
	CKPT_SECTION_VDSO_PROXY = 4,   /* count bytes of jumps for process.vdso_proxy_addr */
	CKPT_SECTION_VMAS = 5,         /* struct ckpt_restorer_vma[count] */
	CKPT_SECTION_RUNS = 6,         /* struct ckpt_restorer_run[count] */
	CKPT_SECTION_RLIMITS = 7,      /* struct ckpt_restorer_rlimit[count] */
	CKPT_SECTION_SIGACTIONS = 8,   /* struct ckpt_k_sigaction[64], index signo - 1 */
	CKPT_SECTION_SHARED_PENDING = 9, /* struct ckpt_restorer_siginfo[count] */
	CKPT_SECTION_POSIX_TIMERS = 10, /* struct ckpt_restorer_posix_timer[count], by id */
	CKPT_SECTION_THREAD = 11,      /* struct ckpt_restorer_thread, groups, pending */
	CKPT_SECTION_FRAME = 12,       /* a thread's rt_sigframe (64-byte aligned) */
	CKPT_SECTION_SECCOMP = 13,     /* one thread's seccomp filters (count = filters) */
	CKPT_SECTION_PAGE_FILES = 14,  /* struct ckpt_restorer_page_file[count] */
	CKPT_SECTION_THREAD_PRCTL = 15, /* struct ckpt_restorer_thread_prctl[count], one per thread */
	CKPT_SECTION_GUARDS = 16,      /* struct ckpt_restorer_range[count]: guard pages to install */
	CKPT_SECTION_KEEP = 17,        /* struct ckpt_restorer_range[count], by address: premapped areas ckpt's unmapping spares */
	CKPT_SECTION_VMA_MEMPOLICY = 18, /* struct ckpt_restorer_vma_mempolicy[count], areas with their own */
	CKPT_SECTION_THREAD_MEMPOLICY = 19, /* struct ckpt_restorer_thread_mempolicy[count], threads with their own */
	CKPT_SECTION_COUNT
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
	uint32_t attrs;           /* CKPT_VMA_*: set once its pages are in, after its protection */
	uint32_t pad;
	/* CKPT_VMA_PREMAPPED: where the area's pages already are in the task
	 * (put there by ckpt's code, shared with the parent copy-on-write);
	 * the blob moves them here (mremap) rather than map the area; it is
	 * one of the KEEP ranges and has no runs. */
	uint64_t premap_from;
};

/* ckpt_restorer_vma.attrs */
#define CKPT_VMA_LOCK_ONFAULT 0x1 /* mlock2(MLOCK_ONFAULT) */
#define CKPT_VMA_SEAL 0x2         /* mseal() (Linux 6.10), last */
#define CKPT_VMA_PREMAPPED 0x4    /* moved from premap_from, read-write until its final protection */

/* A run of pages: [vaddr, vaddr+len) comes from the pages file at offset
 * (the process's own, or with CKPT_RUN_OTHER_FILE the helper fd `fd`); it
 * lies inside one area. */
struct ckpt_restorer_run {
	uint64_t vaddr, len, offset;
	uint32_t flags;           /* CKPT_RUN_* */
	int32_t fd;               /* CKPT_RUN_OTHER_FILE: the pages image to read; else -1 */
};

/* The pages image of another process of the tree that runs read
 * (CKPT_RUN_OTHER_FILE): a helper fd and its size, for the mapping that
 * UFFDIO_COPY copies from. */
struct ckpt_restorer_page_file {
	int32_t fd;
	uint32_t pad;
	uint64_t size;            /* bytes of the file, whole pages */
};

/* [start, end) of the target's memory, page aligned.  CKPT_SECTION_GUARDS:
 * guard pages (MADV_GUARD_INSTALL), installed once the pages are in; each
 * lies inside one area and no run touches it. */
struct ckpt_restorer_range {
	uint64_t start, end;
};

/* A vDSO part ([vvar], [vvar_vclock], [vdso]) of ckpt's task: parked inside
 * the area while ckpt is unmapped, then moved where the target had it
 * (target 0: the target had none; it stays parked and goes with the area).
 * park is an offset from the area's start. */
struct ckpt_restorer_vdso_part {
	uint64_t cur, size, park, target;
};

struct ckpt_restorer_siginfo {
	int32_t signo;
	uint32_t shared;          /* process-wide (rt_sigqueueinfo) or the thread's */
	uint8_t raw[CKPT_SIGINFO_SIZE]; /* siginfo_t */
};

/* A POSIX timer, recreated with its id. */
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

/* The mm fields of prctl(PR_SET_MM_MAP); the auxv is its own section. */
struct ckpt_restorer_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	int32_t exe_fd;           /* -1: leave /proc/PID/exe alone */
	uint32_t pad;
};

/* CKPT_SECTION_PROCESS: state the whole process shares. */
struct ckpt_restorer_process {
	/* Pages. */
	int32_t pages_fd;         /* -1: no pages in its own pages image */
	uint32_t io_flags;        /* CKPT_IO_* */
	uint64_t pages_size;      /* bytes of the pages file */
	uint32_t aio_batch;       /* iocbs submitted at once */
	uint32_t io_workers;      /* threads reading pages (1: the blob alone) */
	uint64_t worker_stack_top; /* the second reader's stack, from the area's start */
	uint64_t main_stack_top;  /* the main thread's stack, from the area's start */

	/* Only when the vDSO differs from the dumped one: the VDSO_PROXY
	 * section's bytes (jumps into the moved vDSO) are copied here, the
	 * dumped [vdso], which is among the vmas (write_first). */
	uint64_t vdso_proxy_addr;

	struct ckpt_restorer_mm mm;
	uint32_t personality;
	/* Not set by the blob any more: the pdeath signal is each thread's
	 * (CKPT_SECTION_THREAD_PRCTL), and dumpable is set by ckpt once every
	 * thread has its credentials (a later uid change would reset it). */
	int32_t pdeath_sig;
	int32_t dumpable;         /* -1: leave */
	uint32_t pad;
	struct ckpt_k_itimerval itimers[3]; /* ITIMER_REAL, _VIRTUAL, _PROF */
};

struct ckpt_restorer_creds {
	uint32_t present;         /* 0: keep ckpt's (the target had the same) */
	uint32_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	uint32_t ngroups;         /* the groups follow the thread struct */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t securebits;
	uint32_t no_new_privs;
	uint32_t last_cap;        /* highest capability number of this kernel */
	uint32_t pad;
};

/* Thread flags. */
#define CKPT_THREAD_MAIN 0x1      /* the thread group leader (the task ckpt made) */
#define CKPT_THREAD_EXITED 0x2    /* had exited at dump: set up the process, then exit */

/* CKPT_SECTION_THREAD: one thread; followed in the same section by
 * uint32_t groups[creds.ngroups] (padded to 8) and
 * struct ckpt_restorer_siginfo pending[nr_pending]. */
struct ckpt_restorer_thread {
	volatile uint32_t phase;  /* enum ckpt_restorer_phase, for ckpt's tracer */
	uint32_t flags;           /* CKPT_THREAD_* */
	int32_t tid;
	uint32_t nr_pending;      /* thread-private pending signals */
	uint64_t stack_top;       /* from the area's start (16-byte aligned) */
	uint64_t sigframe;        /* its CKPT_SECTION_FRAME, from the area's start;
	                           * rt_sigreturn runs with rsp = frame + 8 */
	uint64_t clear_child_tid;
	uint64_t robust_list;     /* 0: none */
	uint64_t robust_list_len;
	struct ckpt_restorer_rseq rseq;
	uint64_t fs_base, gs_base;
	char comm[16];            /* PR_SET_NAME */
	struct ckpt_restorer_creds creds;
};

/* CKPT_SECTION_THREAD_PRCTL: the prctl state Linux keeps per thread, set by
 * each thread itself after its credentials (a uid change clears the
 * pdeath signal).  Found by tid. */
struct ckpt_restorer_thread_prctl {
	int32_t tid;
	int32_t pdeath_sig;       /* PR_SET_PDEATHSIG; 0: none */
	uint64_t timer_slack_ns;  /* PR_SET_TIMERSLACK; 0: leave (a real-time thread has none) */
	/* PR_SPEC_STORE_BYPASS, _INDIRECT_BRANCH, _L1D_FLUSH: the state
	 * PR_GET_SPECULATION_CTRL must show, and the PR_SPEC_* state to set
	 * with PR_SET_SPECULATION_CTRL when it does not (0: leave). */
	uint32_t spec_want[3];
	uint32_t spec_set[3];
	int32_t tsc;              /* PR_SET_TSC; 0: leave (PR_TSC_ENABLE, as every new task) */
	int32_t mce_kill;         /* PR_MCE_KILL_SET policy; -1: leave (the default) */
	int32_t cpuid;            /* ARCH_SET_CPUID; -1: leave (enabled) */
	uint32_t pad;
};

/* CKPT_SECTION_VMA_MEMPOLICY: an area's own NUMA memory policy, bound
 * (mbind) by the main thread right after the areas are mapped, before their
 * pages are read in, so that the pages go where the policy says. */
struct ckpt_restorer_vma_mempolicy {
	uint64_t start, end;
	struct ckpt_mempolicy policy;
};

/* CKPT_SECTION_THREAD_MEMPOLICY: a thread's own memory policy
 * (set_mempolicy), set by the thread itself with its prctl state.  Found by
 * tid; a thread without an entry keeps MPOL_DEFAULT. */
struct ckpt_restorer_thread_mempolicy {
	int32_t tid;
	uint32_t pad;
	struct ckpt_mempolicy policy;
};

/* CKPT_SECTION_SECCOMP: at most one per thread, for a thread with seccomp
 * filters.  struct ckpt_restorer_seccomp, then nr_filters times (the oldest
 * filter first, the order of installation): struct
 * ckpt_restorer_seccomp_filter and its len instructions.  Every part is a
 * multiple of 8 bytes, so the parts tile the section exactly. */
struct ckpt_restorer_seccomp {
	int32_t tid;
	uint32_t nr_filters;      /* = the section's count */
};

struct ckpt_restorer_seccomp_filter {
	uint32_t flags;           /* SECCOMP_FILTER_FLAG_* (LOG; never TSYNC) */
	uint32_t len;             /* instructions, 1 to BPF_MAXINSNS */
};

/* struct sock_filter of <linux/filter.h>. */
struct ckpt_sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

#endif
