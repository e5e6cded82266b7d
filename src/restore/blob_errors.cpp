#include "restore/blob_errors.h"

#include <sys/wait.h>

#include <cstring>

#include "ckpt/error.h"
#include "task/prctl.h"

namespace ckpt::restore {

namespace {

std::string range(uint64_t a, uint64_t b) {
  return format("0x%llx-0x%llx", (unsigned long long)a, (unsigned long long)b);
}

constexpr uint64_t kArchSetCpuid = 0x1012;

std::string hexa(uint64_t a) { return format("0x%llx", (unsigned long long)a); }

const char* creds_call(uint64_t c) {
  switch (c) {
    case CKPT_CREDS_BOUNDING: return "dropping a bounding capability";
    case CKPT_CREDS_KEEPCAPS: return "PR_SET_KEEPCAPS";
    case CKPT_CREDS_GROUPS: return "setgroups";
    case CKPT_CREDS_GIDS: return "setresgid";
    case CKPT_CREDS_UIDS: return "setresuid";
    case CKPT_CREDS_CAPSET: return "capset";
    case CKPT_CREDS_AMBIENT: return "raising an ambient capability";
    case CKPT_CREDS_SECUREBITS: return "PR_SET_SECUREBITS";
    case CKPT_CREDS_NO_NEW_PRIVS: return "PR_SET_NO_NEW_PRIVS";
  }
  return "a credentials call";
}

std::string timer_call(uint64_t id, uint64_t call, int64_t ret) {
  switch (call) {
    case CKPT_TIMER_RESTORE_IDS: return "prctl(PR_TIMER_CREATE_RESTORE_IDS)";
    case CKPT_TIMER_CREATE: return format("timer_create of POSIX timer %llu", (unsigned long long)id);
    case CKPT_TIMER_WRONG_ID:
      return format("recreating POSIX timer %llu with its id (timer_create gave id %lld)", (unsigned long long)id,
                    (long long)ret);
    case CKPT_TIMER_DELETE: return format("timer_delete of filler timer %llu", (unsigned long long)id);
    case CKPT_TIMER_SETTIME: return format("timer_settime of POSIX timer %llu", (unsigned long long)id);
  }
  return format("a call on POSIX timer %llu", (unsigned long long)id);
}

}  // namespace

std::string describe_step(const ckpt_restorer_status& st) {
  uint64_t a = st.arg0, b = st.arg1;
  switch (ckpt_restorer_step(st.step)) {
    case CKPT_STEP_NONE: return "an unknown step";
    case CKPT_STEP_VERSION:
      return format("checking its arguments (version or section %llu, %llu bytes: the blob is of another ckpt, or "
                    "its arguments are damaged)",
                    (unsigned long long)a, (unsigned long long)b);
    case CKPT_STEP_RSEQ_UNREGISTER: return "unregistering ckpt's rseq area " + hexa(a);
    case CKPT_STEP_VDSO_PARK: return "moving the vDSO part at " + hexa(a) + " aside to " + hexa(b);
    case CKPT_STEP_UNMAP: return "unmapping ckpt at " + range(a, b);
    case CKPT_STEP_MMAP: return "mmap of area " + range(a, b);
    case CKPT_STEP_VDSO_MOVE: return "moving the vDSO part to its dumped address " + hexa(b);
    case CKPT_STEP_AIO_SETUP: return "io_setup";
    case CKPT_STEP_AIO_SUBMIT: return "io_submit of pages at " + range(a, a + b);
    case CKPT_STEP_AIO_READ: return "reading pages at " + range(a, a + b);
    case CKPT_STEP_MPROTECT: return "mprotect of area " + range(a, b);
    case CKPT_STEP_MADVISE: return "setting the advice, guard pages, lock or seal of " + range(a, b);
    case CKPT_STEP_PERSONALITY: return format("personality(0x%llx)", (unsigned long long)a);
    case CKPT_STEP_MM_MAP: return "prctl(PR_SET_MM_MAP) (brk " + range(a, b) + ")";
    case CKPT_STEP_SIGACTION: return format("rt_sigaction of signal %llu", (unsigned long long)a);
    case CKPT_STEP_RLIMIT: return format("setting resource limit %llu", (unsigned long long)a);
    case CKPT_STEP_ROBUST_LIST: return "set_robust_list(" + hexa(a) + ")";
    case CKPT_STEP_RSEQ_REGISTER: return "registering rseq at " + hexa(a);
    case CKPT_STEP_PDEATHSIG: return "PR_SET_PDEATHSIG";
    case CKPT_STEP_DUMPABLE: return "PR_SET_DUMPABLE";
    case CKPT_STEP_CREDS: return creds_call(a);
    case CKPT_STEP_SIGQUEUE: return format("queueing pending signal %llu", (unsigned long long)a);
    case CKPT_STEP_ITIMER: return format("setitimer(%llu)", (unsigned long long)a);
    case CKPT_STEP_FS_BASE: return b ? "setting the gs base " + hexa(a) : "setting the fs base " + hexa(a);
    case CKPT_STEP_CLOSE_FDS: return "closing the helper fds";
    case CKPT_STEP_UFFD_COPY: return "UFFDIO_COPY of pages to " + range(a, a + b);
    case CKPT_STEP_PAGES_MAP: return format("mapping a pages image (%llu bytes)", (unsigned long long)a);
    case CKPT_STEP_POSIX_TIMER: return timer_call(a, b, st.ret);
    case CKPT_STEP_THREAD_CREATE: return format("creating thread %llu with its tid (clone3)", (unsigned long long)a);
    case CKPT_STEP_THREAD_NAME: return format("naming thread %llu", (unsigned long long)a);
    case CKPT_STEP_SHMAT: return "shmat of the SysV segment at area " + range(a, b);
    case CKPT_STEP_SECCOMP:
      return format("installing seccomp filter %llu (0 the oldest) of thread %llu", (unsigned long long)b,
                    (unsigned long long)a);
    case CKPT_STEP_TIMER_SLACK:
      return format("setting the timer slack of thread %llu to %llu ns", (unsigned long long)a, (unsigned long long)b);
    case CKPT_STEP_SPECULATION:
      return format("prctl(PR_SET_SPECULATION_CTRL) of the %s to %s", task::speculation_kind(a), task::speculation_state(b));
    case CKPT_STEP_THREAD_PRCTL:
      return a == kArchSetCpuid ? format("arch_prctl(ARCH_SET_CPUID, %llu)", (unsigned long long)b)
                                : format("prctl(%llu, %llu)", (unsigned long long)a, (unsigned long long)b);
    case CKPT_STEP_MBIND: return "binding area " + range(a, b) + " to its memory policy (mbind)";
    case CKPT_STEP_SET_MEMPOLICY:
      return format("setting the memory policy of thread %llu (set_mempolicy, mode and flags %#llx)",
                    (unsigned long long)a, (unsigned long long)b);
    case CKPT_STEP_COUNT: break;
  }
  return format("step %u", st.step);
}

std::string describe_task_death(int pid, int wait_status, const ckpt_restorer_args& a) {
  const ckpt_restorer_status& st = a.status;
  uint32_t phase = st.phase;
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == CKPT_RESTORER_EXIT_CHILD_FAILED &&
      phase == CKPT_PHASE_CHILD) {
    std::string msg(st.message, strnlen(st.message, sizeof(st.message)));
    if (msg.empty()) msg = format("restore of pid %d failed before the restorer ran", pid);
    return msg;
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == CKPT_RESTORER_EXIT_FAILED && phase == CKPT_PHASE_FAILED) {
    // A step that failed without an error (a timer got another id) has
    // its reason in the step's own words.
    std::string why = st.ret < 0 ? format(": %lld (%s)", (long long)st.ret, strerror(int(-st.ret))) : "";
    std::string in_thread = st.tid && st.tid != pid ? format(" (in thread %d)", st.tid) : "";
    return format("restore of pid %d failed in the restorer%s: %s failed%s", pid, in_thread.c_str(),
                  describe_step(st).c_str(), why.c_str());
  }
  const char* where = phase == CKPT_PHASE_CHILD ? "before the restorer ran"
                      : phase == CKPT_PHASE_SIGRETURN ? "at rt_sigreturn (the signal frame was refused)"
                                                      : "in the restorer";
  if (WIFSIGNALED(wait_status))
    return format("restore of pid %d failed %s: the task was killed by %s", pid, where, strsignal(WTERMSIG(wait_status)));
  return format("restore of pid %d failed %s: the task exited with %d", pid, where, WEXITSTATUS(wait_status));
}

}  // namespace ckpt::restore
