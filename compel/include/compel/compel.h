// libcompel: freeze a process tree with ptrace, run syscalls and a parasite
// inside its processes, and cure them without a trace.
//
// Life cycle (every step is an RAII owner; dropping it undoes the step):
//
//   compel::FrozenTree tree = compel::FrozenTree::seize(root_pid);
//   for (const compel::Process& p : tree.processes()) {
//     compel::Infection inf = compel::Infection::infect(tree, p.pid);
//     long r = inf.syscall(SYS_getpid);               // remote syscall
//     compel::ParasiteInfo info = inf.process_info();  // parasite commands
//     ...
//   }  // ~Infection: cure (parasite unmapped, registers restored)
//   tree.release();  // or tree.kill(); ~FrozenTree releases if neither ran
//
// Errors are thrown as compel::Error with a sentence naming the task and the
// reason; by the time it reaches the caller, every task touched so far has
// been put back as it was.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace compel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A task of the tree exited (or was killed) while compel worked on it.
class TaskDied : public Error {
 public:
  explicit TaskDied(const std::string& what) : Error(what) {}
};

// How to seize a tree.
struct SeizeOptions {
  // A cgroup directory holding the whole tree (v2: has cgroup.freeze; v1
  // freezer: has freezer.state).  If set, the cgroup is frozen while every
  // task is seized, so no task can fork or clone meanwhile, then thawed.
  std::string freezer_cgroup;
  // Bound on every wait for a task to stop or to finish injected code.
  int timeout_ms = 10000;
  // Told, in a sentence naming the task, what the caller may want to log
  // as a warning (an infection that could not make itself fully safe
  // should compel die).
  std::function<void(const std::string&)> warn;
};

// How a task was found when it was seized; it is left the same way.
enum class TaskState { Running, Stopped /* by SIGSTOP & co */, Zombie };

struct Thread {
  pid_t tid;
  TaskState state;  // Zombie: an exited main thread (see Process::threads)
};

struct Process {
  pid_t pid;
  pid_t ppid;
  pid_t pgid;
  pid_t sid;
  TaskState state;  // Zombie only if the whole process has exited
  // Main thread first, then the others by tid; empty for a zombie process.
  // A main thread that has exited (pthread_exit) while other threads run
  // on stays first with state Zombie: it was not seized, it has no
  // registers or signals, nothing runs in it; the process lives in the
  // other threads, and every per-thread call below refuses its tid.  Such a
  // process's memory is reached through a live thread: /proc/PID/maps is
  // empty and /proc/PID/auxv, process_vm_readv(PID) and pidfd_getfd through
  // a process pidfd fail; /proc/PID/task/TID/..., process_vm_readv(TID) and
  // a PIDFD_THREAD pidfd of TID work.
  std::vector<Thread> threads;
  // Stopped: the signal of its group stop (SIGSTOP, SIGTSTP, SIGTTIN,
  // SIGTTOU), which its parent's waitpid(WUNTRACED) reports.
  int stop_signal = 0;
};

// The registers of a stopped thread.
struct Registers {
  user_regs_struct gp;            // NT_PRSTATUS, fs_base/gs_base included
  std::vector<uint8_t> xstate;    // NT_X86_XSTATE; empty if the CPU has none
  std::vector<uint8_t> fpregs;    // NT_PRFPREG (512-byte fxsave area)
};

// One seccomp filter of a thread (PTRACE_SECCOMP_GET_FILTER and
// PTRACE_SECCOMP_GET_METADATA).
struct SeccompFilter {
  std::vector<uint8_t> insns;  // struct sock_filter[] (8 bytes each), as installed
  uint32_t flags = 0;          // SECCOMP_FILTER_FLAG_* the kernel reports (only LOG)
};

// The tree under a root, every thread seized and interrupted.
class FrozenTree {
 public:
  // Seizes every thread of every process under root, repeating until no new
  // task appears.  Throws Error (and releases what it seized) if root does
  // not exist, is already traced, or ptrace is denied.
  static FrozenTree seize(pid_t root);
  static FrozenTree seize(pid_t root, const SeizeOptions& opts);

  FrozenTree(FrozenTree&&) noexcept;
  FrozenTree& operator=(FrozenTree&&) noexcept;
  ~FrozenTree();  // release() if neither release() nor kill() ran

  const std::vector<Process>& processes() const;  // parents before children
  const Process& process(pid_t pid) const;

  // Per-thread access while frozen; for a live thread of the tree (Error
  // for an exited main thread, TaskDied for one that died since).
  Registers get_registers(pid_t tid) const;
  void set_registers(pid_t tid, const Registers& regs) const;
  // The syscall a thread was stopped in (-1 if none) and its current result:
  // orig_ax and ax.  Stopped inside a syscall, ret is the kernel's restart
  // code (-512 -ERESTARTSYS, ...).  A thread caught on its way back into a
  // syscall the kernel is restarting (a moment after a signal or a release:
  // ip already back on the syscall instruction) shows ret = the syscall to
  // run again (nr, or restart_syscall); its registers restore as they are.
  struct SyscallState { long nr; long ret; };
  SyscallState syscall_state(pid_t tid) const;
  // Pending signals via PTRACE_PEEKSIGINFO (raw 128-byte siginfo_t each).
  std::vector<std::vector<uint8_t>> pending_signals(pid_t tid, bool shared) const;
  uint64_t blocked_mask(pid_t tid) const;  // PTRACE_GETSIGMASK
  // The thread's seccomp filters in the order they were installed, the
  // oldest first (the kernel's index 0); empty if it has none.  Needs CAP_SYS_ADMIN, and a
  // caller not under seccomp itself.
  std::vector<SeccompFilter> seccomp_filters(pid_t tid) const;

  // Detach every task, leaving each in the state it was found in.
  void release();
  // SIGKILL every process of the tree, then collect their exits.
  // `signalled`, if given, runs once every process has its SIGKILL and
  // before any exit is collected (ckpt's tests stop there: a dump killed
  // while its tree is dying).
  void kill(const std::function<void()>& signalled = {});

  struct Impl;  // opaque: defined inside libcompel

 private:
  explicit FrozenTree(std::unique_ptr<Impl>);
  std::unique_ptr<Impl> impl_;
  friend class Infection;
};

// What the parasite reports of a process (see include/ckpt/parasite_proto.h
// for the raw layout shared with the blob).
struct SigAction {
  uint64_t handler, flags, restorer, mask;
};
struct ITimer {
  uint64_t interval_sec, interval_usec, value_sec, value_usec;
};
struct PosixTimer {
  int id, clock_id, notify, signo, notify_tid;
  uint64_t sigval;
  uint64_t interval_sec, interval_nsec, value_sec, value_nsec;
  int overrun;
};
struct Creds {
  uint32_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
  std::vector<uint32_t> groups;
  uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
  uint32_t securebits;
  bool no_new_privs;
};
struct ProcessInfo {
  SigAction sigactions[64];     // index = signo - 1
  ITimer itimer_real, itimer_virt, itimer_prof;
  std::vector<PosixTimer> posix_timers;
  uint32_t personality;
  uint32_t umask;
  int pdeath_sig;               // the parasite thread's (ThreadInfo has each thread's)
  int dumpable;                 // PR_GET_DUMPABLE: 0, 1, or 2 (SUID_DUMP_ROOT)
  bool child_subreaper;
  int thp_disable;              // PR_GET_THP_DISABLE
  int membarrier;               // MEMBARRIER_CMD_GET_REGISTRATIONS, or -errno
  int memory_merge;             // PR_GET_MEMORY_MERGE, or -errno
};
struct ThreadInfo {
  pid_t tid;
  uint64_t blocked;             // sigmask
  uint64_t altstack_sp;
  int altstack_flags;
  uint64_t altstack_size;
  uint64_t rseq_ptr;            // 0 if none registered
  uint32_t rseq_len, rseq_sig;
  uint64_t clear_child_tid;
  uint64_t timer_slack_ns;      // PR_GET_TIMERSLACK
  int pdeath_sig;               // PR_GET_PDEATHSIG
  int speculation[3];           // PR_GET_SPECULATION_CTRL: store bypass, indirect branch, L1D flush
  int tsc;                      // PR_GET_TSC
  int mce_kill;                 // PR_MCE_KILL_GET
  int cpuid;                    // ARCH_GET_CPUID: 1 enabled, 0 faulting, -errno
  // get_mempolicy(2) of the thread's own policy: 0 or -errno (ENOSYS: no
  // NUMA), then the mode, MPOL_F_* mode flags and nodes (a bit per node).
  int mempolicy_ret;
  uint32_t mempolicy_mode, mempolicy_flags;
  std::vector<uint64_t> mempolicy_nodes;
  Creds creds;
};

// The parasite inside one process of a frozen tree.
class Infection {
 public:
  static Infection infect(FrozenTree& tree, pid_t pid);
  Infection(Infection&&) noexcept;
  Infection& operator=(Infection&&) noexcept;
  ~Infection();  // cure() if not yet done

  // Runs a syscall in the parasite thread's context and returns its raw
  // result (-errno on failure).  The parasite thread is the main thread,
  // or, if it has exited or its stack has no room for its cure frames, the
  // first live thread that has; it also runs the process-wide commands.
  long syscall(long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
               uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

  ProcessInfo process_info();
  // Every live thread, main first: each thread's state by single remote
  // syscalls in it (no parasite code runs there) and its credentials from
  // its /proc status (ids as seen from the caller's user namespace).
  std::vector<ThreadInfo> thread_info();
  // The NUMA memory policy of the area at each address (get_mempolicy with
  // MPOL_F_ADDR in the process), in the order given.
  struct AreaPolicy {
    int ret;                    // 0 or -errno (ENOSYS: no NUMA)
    uint32_t mode, flags;       // MPOL_DEFAULT: the area has none of its own
    std::vector<uint64_t> nodes;
  };
  std::vector<AreaPolicy> area_policies(const std::vector<uint64_t>& addrs);
  // Duplicates the process's fds into the caller (SCM_RIGHTS or
  // pidfd_getfd); result[i] owns a copy of fds[i].
  std::vector<int> steal_fds(const std::vector<int>& fds);
  // Appends the given ranges of the target's memory to out_fd, in order:
  // the parasite vmsplices them into a pipe shared with the caller, which
  // splices the pipe into out_fd (no copy through user space).  Returns
  // the bytes written.
  struct Range { uint64_t start, len; };
  // `progress`, if set, is called with the bytes of each piece written.
  uint64_t splice_pages(const std::vector<Range>& ranges, int out_fd,
                        const std::function<void(uint64_t)>& progress = {});

  // Where the parasite sits in the target while infected (to leave it out
  // of a memory dump).
  Range parasite_area() const;
  pid_t pid() const;

  void cure();

  struct Impl;  // opaque: defined inside libcompel

 private:
  explicit Infection(std::unique_ptr<Impl>);
  std::unique_ptr<Impl> impl_;
};

}  // namespace compel
