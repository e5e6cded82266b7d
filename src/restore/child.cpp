#include "restore/child.h"

#include <linux/sched.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/file_locks.h"
#include "files/files.h"
#include "image/image.h"
#include "restore/helper_files.h"
#include "mem/mm_state.h"
#include "restore/premap.h"

namespace ckpt::restore {

namespace {

void set_session(const TaskPlan& plan) {
  switch (plan.session) {
    case SessionAction::Keep: return;
    case SessionAction::NewSession:
      if (setsid() < 0) throw sys_error(format("cannot restore pid %d: cannot make it a session leader", plan.pid));
      return;
    case SessionAction::OwnGroup:
    case SessionAction::JoinGroup:
      // The parent may have done it already (it does, right after the clone).
      if (getpgrp() != plan.pgid && setpgid(0, plan.pgid) < 0)
        throw sys_error(format("cannot restore pid %d: cannot put it into process group %d", plan.pid, plan.pgid));
      return;
  }
}

// The parent's half of the shell's race-free setpgid: once this returns the
// child's group exists, whatever the child has done yet, so the next child
// can join it.  The child does it too and reports failures.
void set_child_group(const TaskPlan& child) {
  if (child.session == SessionAction::OwnGroup || child.session == SessionAction::JoinGroup)
    setpgid(child.pid, child.pgid);
}

// The helper fds go to their final numbers, above every fd of the target
// and every fd ckpt had, so nothing below can clobber them.
void place_helpers(const TaskPlan& plan) {
  for (size_t slot = 0; slot < plan.helper_src.size(); slot++) {
    int want = plan.helper_fd_first + int(slot);
    if (dup2(plan.helper_src[slot], want) < 0) throw sys_error(format("cannot move a helper fd to %d", want));
  }
}

// Everything of ckpt goes; the target's fds and the helpers stay.  By
// ranges between the target's fds: a task of a big tree inherits the helper
// fds and descriptions of every process.
void close_foreign_fds(const TaskPlan& plan) {
  int helpers_end = plan.helper_fd_first + int(plan.helper_src.size());
  close_range(unsigned(helpers_end), ~0u, 0);
  int from = 0;
  for (int fd : plan.target_fds) {
    if (fd > from) close_range(unsigned(from), unsigned(fd - 1), 0);
    from = fd + 1;
  }
  if (from < plan.helper_fd_first) close_range(unsigned(from), unsigned(plan.helper_fd_first - 1), 0);
}

// Root and working directory through fds: a deleted one is entered through
// ckpt's fd of it (made again), and the working directory is taken before
// the chroot, while its path is still looked up in ckpt's root.
void set_fs(const TaskPlan& plan) {
  UniqueFd by_path;
  int cwd = plan.cwd_fd;
  if (cwd < 0 && !plan.cwd.empty()) {
    by_path.reset(::open(plan.cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!by_path)
      throw sys_error(format("cannot restore pid %d: cannot open its working directory %s", plan.pid,
                             plan.cwd.c_str()));
    cwd = by_path.get();
  }
  if (plan.root_fd >= 0) {
    if (fchdir(plan.root_fd) < 0 || chroot(".") < 0)
      throw sys_error(format("cannot restore pid %d: cannot change its root to its deleted directory %s", plan.pid,
                             plan.root.c_str()));
  } else if (!plan.root.empty() && plan.root != "/" && chroot(plan.root.c_str()) < 0) {
    throw sys_error(format("cannot restore pid %d: cannot change its root to %s", plan.pid, plan.root.c_str()));
  }
  if (cwd >= 0 && fchdir(cwd) < 0)
    throw sys_error(format("cannot restore pid %d: cannot change to its working directory %s", plan.pid,
                           plan.cwd.c_str()));
  if (plan.umask) ::umask(*plan.umask);
}

// Its fds on /proc entries of processes made after it (children, siblings):
// once the last task of the tree exists.
void open_late_files(const TreeRun& run, size_t index, OpenedFiles& opened) {
  if (run.created_w < 0) return;
  close(run.created_w);  // its children exist: they have their copies
  const std::set<uint32_t>& late = run.files->late[index];
  if (late.empty()) return;
  char byte;
  ssize_t n;
  do n = read(run.created_r, &byte, 1);
  while (n < 0 && errno == EINTR);
  if (n != 0) throw sys_error(format("cannot restore pid %d: waiting for the tree to exist", run.tasks[index].pid));
  files::FdRoom room(run.files->floor);
  room.ceiling = run.files->ceiling;
  for (auto& [id, fd] : files::open_files(*run.files_image, late, *run.fd_opts, room, opened))
    opened[id] = fd.release();
}

// The descriptions this process opens: those only it uses at their own
// numbers, freed first of what an ancestor opened for itself alone.
void open_own_files(const TreeRun& run, size_t index, OpenedFiles& opened) {
  const TreeFiles& tf = *run.files;
  for (auto it = opened.begin(); it != opened.end();) {
    auto owner = tf.private_owner.find(it->first);
    if (owner == tf.private_owner.end() || owner->second == index) {
      ++it;
      continue;
    }
    close(it->second);
    it = opened.erase(it);
  }
  files::FdRoom room(tf.floor);
  room.ceiling = tf.ceiling;
  room.at = &tf.own_number[index];
  for (auto& [id, fd] : files::open_files(*run.files_image, tf.owned[index], *run.fd_opts, room, opened))
    opened[id] = fd.release();  // inherited by the children; closed with ckpt's fds
}

void set_misc(const TaskPlan& plan) {
  if (!plan.comm.empty()) prctl(PR_SET_NAME, plan.comm.c_str());
  if (plan.oom_score_adj) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    std::string v = std::to_string(*plan.oom_score_adj);
    // Lowering it needs CAP_SYS_RESOURCE: best effort, as the kernel allows.
    if (fd >= 0) {
      (void)!write(fd, v.data(), v.size());
      close(fd);
    }
  }
}

[[noreturn]] void jump_to_blob(const RestorerArea& area) {
  // Every signal blocked, glibc's internal ones too: the blob sets the
  // target's mask with rt_sigreturn.
  uint64_t all = ~uint64_t(0);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, sizeof(all));
  uint64_t sp = area.stack_top() - 8;  // as if "call" had pushed a return address
  asm volatile(
      "movq %0, %%rsp\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "jmpq *%1\n\t"
      :
      : "r"(sp), "r"(area.blob_entry()), "D"(area.args())
      : "memory");
  __builtin_unreachable();
}

uint64_t monotonic_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000000000 + uint64_t(t.tv_nsec);
}

[[noreturn]] void fail(const TaskPlan& plan, const char* what) {
  ckpt_restorer_status& st = plan.area->args()->status;
  snprintf(st.message, sizeof(st.message), "%s", what);
  _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);
}

// A zombie of the image: it takes its session and group (its parent waits
// for it by group, perhaps) and ends at once the way it ended, so that it
// stays a zombie until its restored parent reaps it.  Death by a signal is
// replayed with that signal (default action, unblocked, no core file).
[[noreturn]] void run_zombie(const TreeRun& run, const TaskPlan& plan) {
  (void)run;
  try {
    set_session(plan);
  } catch (const std::exception&) {
    _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);
  }
  if (!plan.comm.empty()) prctl(PR_SET_NAME, plan.comm.c_str());
  prctl(PR_SET_DUMPABLE, 0);
  int st = plan.zombie_status;
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    syscall(SYS_kill, syscall(SYS_getpid), sig);
    _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);  // a signal that does not kill: not a death
  }
  _exit(WEXITSTATUS(st));
}

// For the tests of a failed tree: CKPT_RESTORE_TEST_FAIL=PID makes that
// task fail once its children exist, as any failure there would.
void fail_if_asked(const TreeRun& run, const TaskPlan& plan) {
  if (run.fail_pid && run.fail_pid == plan.pid)
    throw Error(format("cannot restore pid %d: failure injected by CKPT_RESTORE_TEST_FAIL", plan.pid));
}

[[noreturn]] void run_task(const TreeRun& run, size_t index, OpenedFiles opened);

// Creates the children of `plan` in order, each with its pid; they inherit
// `opened`.  Returns in the parent only.
void create_children(const TreeRun& run, const TaskPlan& plan, const OpenedFiles& opened) {
  for (size_t c : plan.children) {
    const TaskPlan& child = run.tasks[c];
    pid_t r = clone_with_pid(child.pid);
    if (r == 0) {
      if (child.zombie) run_zombie(run, child);
      run_task(run, c, opened);
    }
    set_child_group(child);
  }
}

void run_task(const TreeRun& run, size_t index, OpenedFiles opened) {
  const TaskPlan& plan = run.tasks[index];
  // Dies with its parent while still ckpt's code (the root: with ckpt).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    if (index == 0) {
      close(run.go_write_fd);
      char go;
      ssize_t n;
      do n = read(run.go_fd, &go, 1);
      while (n < 0 && errno == EINTR);
      if (n != 1) _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);  // ckpt gave up
      close(run.go_fd);
    }
    // For the stats: when the task began, and how long its part here took.
    ckpt_restorer_status& st = plan.area->args()->status;
    st.created_ns = monotonic_ns();
    cgroup::enter(plan.pid, plan.cgroups);
    set_session(plan);
    open_own_files(run, index, opened);
    // Before the children: they inherit these pages.
    if (plan.premaps && !plan.premaps->empty()) fill_premaps(*plan.image, *plan.premaps, *plan.helpers, plan.helper_src);
    create_children(run, plan, opened);
    open_late_files(run, index, opened);
    fail_if_asked(run, plan);
    place_helpers(plan);
    set_misc(plan);
    mem::apply_mm_state(plan.pid, plan.image->mm);
    task::apply_process_prctl(plan.pid, plan.prctl);
    // Before its fds take their numbers: ckpt's fds of deleted directories
    // may sit at one of them.
    set_fs(plan);
    if (!plan.target_fds.empty()) files::install_fds(*run.files_image, plan.pid, opened, *run.fd_opts);
    close_foreign_fds(plan);
    // --file-locks: after the last close of a ckpt fd, which would drop the
    // process's POSIX locks on that file (file_locks.h).
    files::take_posix_locks(*run.files_image, plan.pid);
    st.files_ns = monotonic_ns() - st.created_ns;
  } catch (const std::exception& e) {
    fail(plan, e.what());
  }
  jump_to_blob(*plan.area);
}

}  // namespace

pid_t clone_with_pid(int pid, bool sibling) {
  pid_t tid = pid;
  clone_args ca{};
  // A sibling's parent is ours (CLONE_PARENT); the kernel then gives it
  // our own exit signal, and wants none here.
  ca.flags = sibling ? CLONE_PARENT : 0;
  ca.exit_signal = sibling ? 0 : SIGCHLD;
  ca.set_tid = reinterpret_cast<uint64_t>(&tid);
  ca.set_tid_size = 1;
  // A pid no live task holds may still be taken for a moment by a task
  // going away (the kernel frees an exiting thread's pid after its process's
  // end was reported): EEXIST without a holder is tried again, for up to 2 s.
  constexpr int kTries = 2000;
  long r = -1;
  int err = 0;
  for (int i = 0; i < kTries; i++) {
    r = syscall(SYS_clone3, &ca, sizeof(ca));
    if (r >= 0) return pid_t(r);
    err = errno;
    if (err != EEXIST) break;
    check_pid_free(pid);  // throws naming the holder
    timespec ms{0, 1000000};
    nanosleep(&ms, nullptr);
  }
  if (err == EEXIST) throw Error(format("cannot restore pid %d: the pid is taken", pid));
  if (err == EPERM)
    throw Error(format("cannot restore pid %d: creating a task with a chosen pid needs CAP_CHECKPOINT_RESTORE or "
                       "CAP_SYS_ADMIN",
                       pid));
  if (err == EINVAL && sibling && getpid() == 1)
    throw Error(format("cannot restore pid %d with --restore-sibling: ckpt is the init of its pid namespace, which "
                       "has no parent to share",
                       pid));
  if (err == EINVAL)
    throw Error(format("cannot restore pid %d: this system cannot have that pid (see /proc/sys/kernel/pid_max)", pid));
  throw sys_error(format("cannot restore pid %d: clone3", pid), err);
}

void run_root(const TreeRun& run) {
  // ckpt's log file belongs to ckpt; the tasks must not write to it (nor to
  // a file that took its fd number).  Errors go through the areas instead.
  log::close_file();
  log::set_verbosity(0);
  run_task(run, 0, {});
}

}  // namespace ckpt::restore
