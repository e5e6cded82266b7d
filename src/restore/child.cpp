#include "restore/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/files.h"
#include "image/image.h"

namespace ckpt::restore {

namespace {

std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) throw sys_error("cannot list /proc/self/fd");
  int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

void set_session(const ChildPlan& plan) {
  switch (plan.session) {
    case SessionAction::Keep: return;
    case SessionAction::NewSession:
      if (setsid() < 0) throw sys_error(format("cannot make pid %d a session leader", plan.pid));
      return;
    case SessionAction::OwnGroup:
      if (setpgid(0, 0) < 0) throw sys_error(format("cannot make pid %d a process group leader", plan.pid));
      return;
    case SessionAction::JoinGroup:
      if (setpgid(0, plan.join_pgid) < 0)
        throw sys_error(format("cannot put pid %d into process group %d", plan.pid, plan.join_pgid));
      return;
  }
}

// The helper fds go to their final numbers, above every fd of the target
// and every fd ckpt had, so nothing below can clobber them.
void place_helpers(const ChildPlan& plan) {
  for (size_t slot = 0; slot < plan.helper_src.size(); slot++) {
    int want = plan.helper_fd_first + int(slot);
    if (dup2(plan.helper_src[slot], want) < 0) throw sys_error(format("cannot move a helper fd to %d", want));
  }
}

// files::restore_fds() replaces whatever sits at a target's fd number, so
// the images directory it reads must sit above them all: every free number
// up to the highest target fd gets a placeholder first, then the directory
// is opened again (landing above), then the target's fds take their places.
void restore_fds(const ChildPlan& plan) {
  if (plan.target_fds.empty()) return;
  int max_fd = plan.target_fds.back();
  std::vector<int> open = open_fds();
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0) throw sys_error("cannot open /dev/null");
  for (int fd = 0; fd <= max_fd; fd++) {
    if (fd == null || std::binary_search(open.begin(), open.end(), fd)) continue;
    if (dup3(null, fd, O_CLOEXEC) < 0) throw sys_error(format("cannot hold fd %d", fd));
  }
  image::ImageDir dir = image::ImageDir::open(plan.images_path);
  files::RestoreFdOptions opts;
  opts.shell_job = plan.shell_job;
  files::restore_fds(dir, plan.pid, opts);
}

// Everything of ckpt goes; the target's fds and the helpers stay.
void close_foreign_fds(const ChildPlan& plan) {
  int helpers_end = plan.helper_fd_first + int(plan.helper_src.size());
  close_range(unsigned(helpers_end), ~0u, 0);
  for (int fd : open_fds())
    if (fd < plan.helper_fd_first && !std::binary_search(plan.target_fds.begin(), plan.target_fds.end(), fd))
      close(fd);
}

void set_fs(const ChildPlan& plan) {
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) < 0)
    throw sys_error(format("cannot restore pid %d: cannot change to its working directory %s", plan.pid,
                           plan.cwd.c_str()));
  if (!plan.root.empty() && plan.root != "/" && chroot(plan.root.c_str()) < 0)
    throw sys_error(format("cannot restore pid %d: cannot change its root to %s", plan.pid, plan.root.c_str()));
  if (plan.umask) ::umask(*plan.umask);
}

void set_misc(const ChildPlan& plan) {
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

void fail(const ChildPlan& plan, const char* what) {
  ckpt_restorer_status& st = plan.area->args()->status;
  snprintf(st.message, sizeof(st.message), "%s", what);
  _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);
}

}  // namespace

void run_child(const ChildPlan& plan) {
  // ckpt's log file belongs to ckpt; the task must not write to it (nor to a
  // file that took its fd number).  Errors go through the area instead.
  log::close_file();
  log::set_verbosity(0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    close(plan.go_write_fd);
    char go;
    ssize_t n;
    do n = read(plan.go_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(CKPT_RESTORER_EXIT_CHILD_FAILED);  // ckpt gave up
    close(plan.go_fd);
    set_session(plan);
    place_helpers(plan);
    set_misc(plan);
    restore_fds(plan);
    close_foreign_fds(plan);
    set_fs(plan);
  } catch (const std::exception& e) {
    fail(plan, e.what());
  }
  jump_to_blob(*plan.area);
}

}  // namespace ckpt::restore
