// `ckpt restore -D DIR`: read and check every image, create the process with
// its pid, give it its fds and task state, hand it to the restorer blob, and
// let it go (-d) or stay its parent and exit with its status.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "commands.h"
#include "files/files.h"
#include "proc/maps.h"
#include "proc/read.h"
#include "restore/child.h"
#include "restore/helper_files.h"
#include "restore/process_image.h"
#include "restore/restorer_area.h"
#include "restore/session.h"
#include "restore/tracer.h"
#include "restore/vdso.h"

namespace ckpt {

namespace {

using restore::ProcessImage;

constexpr auto kRestoreTimeout = std::chrono::minutes(10);

// The vDSO is the kernel's code inside the process: a dump taken on another
// kernel can only be restored if its vDSO is known to be the same.
void check_kernel(const ProcessImage& p) {
  struct utsname u;
  if (uname(&u) != 0 || p.inventory.kernel() == u.release) return;
  if (p.mm.vdso_build_id().empty())
    throw Error(format("cannot restore pid %d: it was dumped on kernel %s and this is %s; its vDSO cannot be "
                       "checked to be the same (the images carry no vDSO build id)",
                       p.pid(), p.inventory.kernel().c_str(), u.release));
  LOG_WARN("pid %d was dumped on kernel %s; this is %s", p.pid(), p.inventory.kernel().c_str(), u.release);
}

// The task gets fds up to the target's highest, plus the helpers above:
// allow ckpt (and so the task until the blob sets its own) as many as it may.
void raise_nofile() {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

uint64_t task_size(const std::vector<proc::MapsEntry>& maps, const ProcessImage& p) {
  constexpr uint64_t k47 = (1ull << 47) - 4096, k56 = (1ull << 56) - 4096, kVsyscall = 0xffffffffff600000ull;
  uint64_t top = 0;
  for (const auto& m : maps)
    if (m.start < kVsyscall) top = std::max(top, m.end);
  for (const auto& v : p.vmas)
    if (v.kind() != img::VMA_VSYSCALL) top = std::max(top, v.end());
  return top > k47 ? k56 : k47;
}

std::vector<proc::MapsEntry> own_maps() {
  return proc::parse_maps(proc::read_file("/proc/self/maps"), "/proc/self/maps");
}

struct Pipe {
  UniqueFd r, w;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw sys_error("cannot create a pipe");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

pid_t clone_with_pid(int pid) {
  pid_t tid = pid;
  clone_args ca{};
  ca.exit_signal = SIGCHLD;
  ca.set_tid = reinterpret_cast<uint64_t>(&tid);
  ca.set_tid_size = 1;
  long r = syscall(SYS_clone3, &ca, sizeof(ca));
  if (r >= 0) return pid_t(r);
  int err = errno;
  if (err == EEXIST) restore::check_pid_free(pid);  // names the holder
  if (err == EEXIST) throw Error(format("cannot restore pid %d: the pid is taken", pid));
  if (err == EPERM)
    throw Error(format("cannot restore pid %d: creating a task with a chosen pid needs CAP_CHECKPOINT_RESTORE or "
                       "CAP_SYS_ADMIN",
                       pid));
  if (err == EINVAL)
    throw Error(format("cannot restore pid %d: this system cannot have that pid (see /proc/sys/kernel/pid_max)", pid));
  throw sys_error(format("cannot restore pid %d: clone3", pid), err);
}

void write_pidfile(const std::string& path, int pid) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) throw sys_error("cannot write the pidfile " + path);
  std::string text = std::to_string(pid) + "\n";
  if (write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) throw sys_error("cannot write " + tmp);
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) < 0) throw sys_error("cannot write the pidfile " + path);
}

// SIGCHLD blocked for the duration: ckpt sleeps in sigtimedwait for it.
class BlockChld {
 public:
  BlockChld() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    sigprocmask(SIG_BLOCK, &s, &old_);
  }
  ~BlockChld() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

// Like a shell waiting for its foreground job, ckpt lets the terminal's
// SIGINT and SIGQUIT go to the process alone, and reports how it ended.
int wait_for_exit(int pid) {
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status;
  for (;;) {
    if (waitpid(pid, &status, 0) == pid) break;
    if (errno != EINTR) throw sys_error(format("cannot wait for the restored pid %d", pid));
  }
  if (WIFEXITED(status)) {
    LOG_INFO("pid %d exited with %d", pid, WEXITSTATUS(status));
    return WEXITSTATUS(status);
  }
  LOG_INFO("pid %d was killed by %s", pid, strsignal(WTERMSIG(status)));
  return 128 + WTERMSIG(status);
}

restore::ChildPlan child_plan(const cli::Options& opts, const image::ImageDir& dir, const ProcessImage& p,
                              const restore::SessionPlan& session, const restore::HelperFiles& helpers,
                              int helper_fd_first, const Pipe& go, const restore::RestorerArea& area) {
  restore::ChildPlan plan;
  plan.pid = p.pid();
  plan.images_path = dir.path();
  plan.shell_job = opts.shell_job;
  plan.session = session.action;
  plan.join_pgid = session.pgid;
  for (const UniqueFd& fd : helpers.fds) plan.helper_src.push_back(fd.get());
  plan.helper_fd_first = helper_fd_first;
  plan.target_fds = p.fds;
  plan.go_fd = go.r.get();
  plan.go_write_fd = go.w.get();
  if (p.has_fs) {
    plan.cwd = p.fs.cwd();
    plan.root = p.fs.root();
    plan.umask = p.fs.umask();
  } else {
    plan.umask = p.core.process().umask();
  }
  plan.comm = p.core.thread().comm();
  if (p.core.process().has_oom_score_adj()) plan.oom_score_adj = p.core.process().oom_score_adj();
  plan.area = &area;
  return plan;
}

void log_restored(const ProcessImage& p, const restore::RestorerArea& area, std::chrono::steady_clock::duration took) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  uint64_t page_bytes = 0;
  for (const auto& r : p.runs) page_bytes += r.len;
  double pages_s = double(area.args()->status.pages_ns) / 1e9;
  LOG_INFO("pid %d restored in %lld ms; %.1f MiB of pages read in %.0f ms (%.2f GB/s)", p.pid(), (long long)ms,
           double(page_bytes) / (1 << 20), pages_s * 1e3, pages_s > 0 ? double(page_bytes) / 1e9 / pages_s : 0.0);
}

// Everything up to the restored process running on its own; ckpt keeps no
// file or mapping of the restore once this returns.
int restore_process(const cli::Options& opts) {
  image::ImageDir dir = image::ImageDir::open(opts.images_dir);
  ProcessImage p = restore::load_process_image(dir);
  const int pid = p.pid();
  LOG_INFO("restoring pid %d (%d areas, %zu page runs) from %s", pid, int(p.vmas.size()), p.runs.size(),
           dir.path().c_str());
  check_kernel(p);
  restore::check_pid_free(pid);
  files::check_files(dir, pid);
  restore::SessionPlan session = restore::plan_session(p, opts.shell_job);
  raise_nofile();

  restore::HelperFiles helpers = restore::open_helper_files(dir, p);
  Pipe go = make_pipe();
  std::vector<int> ours = proc::list_fds(getpid());
  int helper_fd_first = std::max(ours.empty() ? 2 : ours.back(), p.fds.empty() ? 2 : p.fds.back()) + 1;

  std::vector<proc::MapsEntry> maps = own_maps();
  restore::ArgsInputs in{};
  in.image = &p;
  in.helper_fd_first = helper_fd_first;
  in.helpers = &helpers;
  in.our_vdso = restore::vdso_parts(maps);
  in.our_vdso_build_id = restore::own_vdso_build_id();
  in.task_size = task_size(maps, p);
  restore::RestorerArea area = restore::build_restorer_area(in, maps);
  restore::ChildPlan plan = child_plan(opts, dir, p, session, helpers, helper_fd_first, go, area);

  BlockChld block_chld;
  fflush(stdout);
  fflush(stderr);
  pid_t child = clone_with_pid(pid);
  if (child == 0) restore::run_child(plan);
  restore::TracedTask task(child);
  go.r.reset();
  task.seize();
  area.args()->ckpt_rseq = task.rseq_config();
  if (write(go.w.get(), "g", 1) != 1) throw sys_error(format("cannot start the restore of pid %d", pid));
  go.w.reset();

  auto started = std::chrono::steady_clock::now();
  task.run_to_target(area, started + kRestoreTimeout);
  task.remove_area(area);
  write_pidfile(opts.pidfile, pid);
  bool stopped = p.core.process().has_task_state() && p.core.process().task_state() == 2;
  task.detach(stopped);
  log_restored(p, area, std::chrono::steady_clock::now() - started);
  return pid;
}

}  // namespace

int run_restore(const cli::Options& opts) {
  int pid = restore_process(opts);
  if (opts.detach) return 0;
  return wait_for_exit(pid);
}

}  // namespace ckpt
