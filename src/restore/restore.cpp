// `ckpt restore -D DIR`: read and check every image, create the process tree
// with its pids, give each process its fds and task state, hand each to its
// restorer blob, hold them all until the last is in place, and let them go
// (-d) or stay the root's parent and exit with its status.
#include <fcntl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>

#include "action/action_script.h"
#include "cgroup/cgroup.h"
#include "ckpt/error.h"
#include "ckpt/fresh_file.h"
#include "ckpt/log.h"
#include "commands.h"
#include "files/files.h"
#include "files/tcp_connection.h"
#include "net/network_lock.h"
#include "proc/maps.h"
#include "proc/read.h"
#include "report/json.h"
#include "report/blocker.h"
#include "report/report.h"
#include "restore/area_features.h"
#include "restore/child.h"
#include "restore/helper_files.h"
#include "restore/kill_point.h"
#include "restore/process_image.h"
#include "restore/restorer_area.h"
#include "restore/session.h"
#include "restore/shared_memory.h"
#include "restore/tracer.h"
#include "restore/tree_tracer.h"
#include "restore/vdso.h"
#include "stats/progress.h"
#include "stats/stats.h"
#include "task/affinity.h"
#include "task/autogroup.h"
#include "task/prctl.h"
#include "task/sched.h"
#include "verify/verify.h"

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

// Through a fresh tmp file renamed over the pidfile: a link planted at
// either name is replaced, never followed (fresh_file.h).
void write_pidfile(const std::string& path, int pid) {
  if (path.empty()) return;
  write_file_replacing(path, std::to_string(pid) + "\n", 0644, "the pidfile");
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

// ckpt is a child subreaper while it restores: if the restore fails, the
// orphans and zombies of the killed tree come to ckpt, which reaps them.
class Subreaper {
 public:
  Subreaper() {
    prctl(PR_GET_CHILD_SUBREAPER, &old_);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  ~Subreaper() { restore(); }
  void restore() { prctl(PR_SET_CHILD_SUBREAPER, old_); }

 private:
  int old_ = 0;
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

// ckpt's fd of the ghost directory `id` (0: none), inherited by the tasks.
int ghost_dir_fd(const files::RestoreObjects& objects, uint32_t id) {
  if (!id) return -1;
  auto it = objects.ghost.find(id);
  return it == objects.ghost.end() ? -1 : it->second;
}

restore::TaskPlan task_plan(const ProcessImage& p, const restore::NodePlan& node, const restore::HelperFiles* helpers,
                            int helper_fd_first, const restore::RestorerArea* area,
                            const files::RestoreObjects& objects, const files::FsRoot& fs_root) {
  restore::TaskPlan plan;
  plan.pid = p.pid();
  plan.zombie = p.zombie;
  plan.zombie_status = p.zombie_status;
  plan.session = node.action;
  plan.pgid = node.pgid;
  plan.children = node.children;
  plan.comm = p.zombie ? p.pstree.comm() : p.core.thread().comm();
  if (p.zombie) return plan;
  for (const UniqueFd& fd : helpers->fds) plan.helper_src.push_back(fd.get());
  plan.helper_fd_first = helper_fd_first;
  plan.target_fds = p.fds;
  if (p.has_fs) {
    // --root PATH: PATH + the saved ones (the saved root "/" is PATH).
    plan.cwd = fs_root.host(p.fs.cwd());
    plan.root = fs_root.host(p.fs.root());
    plan.umask = p.fs.umask();
    plan.cwd_fd = ghost_dir_fd(objects, p.fs.cwd_ghost_id());
    plan.root_fd = ghost_dir_fd(objects, p.fs.root_ghost_id());
  } else {
    plan.umask = p.core.process().umask();
  }
  if (p.core.process().has_oom_score_adj()) plan.oom_score_adj = p.core.process().oom_score_adj();
  plan.prctl = task::process_prctl(p.core.process());
  plan.area = area;
  return plan;
}

// The bytes of pages the blob reads.  (Pages of premapped areas are read
// before the blob, in ckpt's code, and not counted.)
uint64_t blob_page_bytes(const ProcessImage& p, const std::vector<restore::Premap>& premaps) {
  uint64_t page_bytes = 0;
  for (const auto& r : p.runs)
    if (std::none_of(premaps.begin(), premaps.end(), [&](const restore::Premap& m) {
          return p.vmas[m.vma].start() <= r.vaddr && r.vaddr < p.vmas[m.vma].end();
        }))
      page_bytes += r.len;
  return page_bytes;
}

void log_restored(const ProcessImage& p, const restore::RestorerArea& area, const std::vector<restore::Premap>& premaps,
                  std::chrono::steady_clock::duration took) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  uint64_t page_bytes = blob_page_bytes(p, premaps);
  double pages_s = double(area.args()->status.pages_ns) / 1e9;
  LOG_INFO("pid %d restored in %lld ms; %.1f MiB of pages read by the blob in %.0f ms (%.2f GB/s)", p.pid(),
           (long long)ms, double(page_bytes) / (1 << 20), pages_s * 1e3,
           pages_s > 0 ? double(page_bytes) / 1e9 / pages_s : 0.0);
}

// The working directory and root each task will change to, under --root
// (a deleted one is made again by SharedMemory).
void check_fs(const ProcessImage& p, const files::FsRoot& fs_root) {
  if (!p.has_fs) return;
  for (auto [dir, ghost, what] : {std::tuple{fs_root.host(p.fs.cwd()), p.fs.cwd_ghost_id(), "working directory"},
                                  std::tuple{fs_root.host(p.fs.root()), p.fs.root_ghost_id(), "root"}}) {
    struct stat st;
    if (!ghost && !dir.empty() && (stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)))
      throw Error(format("cannot restore pid %d: its %s %s is not a directory any more", p.pid(), what, dir.c_str()));
  }
}

// Shared anonymous memory of an older image carries no identity: if several
// processes have some, each gets its own, and what they shared is no longer
// shared.  (Images with shared memory objects restore them shared.)
void warn_shared_anon(const restore::TreeImage& tree) {
  std::vector<int> with;
  for (const ProcessImage& p : tree.procs)
    for (const img::VmaEntry& v : p.vmas)
      if (v.kind() == img::VMA_ANON_SHARED && !v.has_shmem_id()) {
        with.push_back(p.pid());
        break;
      }
  if (with.size() > 1)
    LOG_WARN("pids %d and %d (and %zu more) have anonymous shared memory recorded without its object (an older "
             "image); each gets its own copy, so memory they shared is no longer shared after the restore",
             with[0], with[1], with.size() - 2);
}

// Pages a child still shared copy-on-write with its parent at the dump are
// stored once; those of premapped areas are shared again, the others (the
// stack, areas a premap does not hold) come back as the child's own copy:
// same content, more memory in use.
void note_cow_copies(const restore::TreeImage& tree, const std::vector<std::vector<restore::Premap>>& premaps) {
  for (size_t i = 0; i < tree.procs.size(); i++) {
    const ProcessImage& p = tree.procs[i];
    uint64_t shared = 0, copied = 0;
    for (const ProcessImage::Run& r : p.runs) {
      if (p.own(r)) continue;
      bool again = std::any_of(premaps[i].begin(), premaps[i].end(), [&](const restore::Premap& m) {
        return m.inherited && p.vmas[m.vma].start() <= r.vaddr && r.vaddr < p.vmas[m.vma].end();
      });
      (again ? shared : copied) += r.len;
    }
    if (shared)
      LOG_INFO("pid %d: %llu KiB of pages it shared copy-on-write with its parent are shared again", p.pid(),
               (unsigned long long)(shared >> 10));
    if (copied)
      LOG_INFO("pid %d: %llu KiB of pages it shared copy-on-write with its parent come back as a copy of its own",
               p.pid(), (unsigned long long)(copied >> 10));
  }
}

// Everything that can be checked before a task exists: pids, files, mapped
// files, directories, the vDSO (with the areas), sessions and groups.  Each
// problem is one blocker in `found`, so that a refused restore names them
// all.
// (Without a session, refused already, the tree is not planned.)
std::vector<restore::NodePlan> check_tree(const restore::TreeImage& tree,
                                          const std::optional<restore::SessionPlan>& session,
                                          const files::RestoreFdOptions& fd_opts, report::BlockerList& found) {
  found.check(tree.root().pid(), "kernel", [&] { check_kernel(tree.root()); });
  std::vector<restore::TreeNode> nodes;
  for (const ProcessImage& p : tree.procs) {
    found.check(p.pid(), "pid", [&] { restore::check_pid_free(p.pid()); });
    for (const img::ThreadCoreEntry& t : p.threads)
      if (int(t.tid()) != p.pid()) found.check(p.pid(), "pid", [&] { restore::check_pid_free(int(t.tid())); });
    if (!p.zombie) {
      files::check_files(tree.files, p.pid(), fd_opts, &found.all());
      found.check(p.pid(), "directory", [&] { check_fs(p, fd_opts.root); });
      found.check(p.pid(), "memory area", [&] { restore::check_area_features(p); });
      restore::check_mapped_files(p, fd_opts.root, found);
    }
    nodes.push_back({p.pid(), int(p.pstree.ppid()), int(p.pstree.pgid()), int(p.pstree.sid()), p.zombie});
  }
  warn_shared_anon(tree);
  std::vector<restore::NodePlan> plan;
  if (!session) return plan;
  restore::RootSession rs{session->action, session->pgid, getsid(0), getpgrp()};
  found.check(tree.root().pid(), "process tree", [&] { plan = restore::plan_tree(nodes, rs); });
  return plan;
}

// The restore's refusal, before anything is made: the one blocker's message
// as it is, or every blocker, one per line.
void refuse(const report::BlockerList& found, pid_t root) {
  if (found.empty()) return;
  const std::vector<report::Blocker>& all = found.all();
  auto line = [](const report::Blocker& b) {
    std::string text = b.text();
    return text.starts_with("cannot restore ") ? text.substr(15) : text;
  };
  if (all.size() == 1) throw report::Blocked("cannot restore " + line(all[0]), all);
  std::string list;
  for (const report::Blocker& b : all) list += "\n  " + line(b);
  throw report::Blocked(format("cannot restore the tree of pid %d, for %zu reasons:%s", root, all.size(), list.c_str()),
                        all);
}

void set_scheduling(const restore::TreeImage& tree) {
  for (const ProcessImage& p : tree.procs)
    for (const img::ThreadCoreEntry& t : p.threads) {
      if (p.zombie || t.exited()) continue;
      if (t.has_cpu_affinity()) task::apply_affinity(p.pid(), pid_t(t.tid()), t.cpu_affinity());
      if (t.has_sched()) task::apply_sched(p.pid(), pid_t(t.tid()), t.sched());
    }
}

// What ckpt writes into /proc of each held process: the autogroup nice
// value of each session it made (the members share
// the leader's autogroup, so the leaders go first, then everyone is checked).
void set_process_knobs(const restore::TreeImage& tree, const std::vector<restore::NodePlan>& nodes) {
  for (size_t i = 0; i < tree.procs.size(); i++) {
    const img::ProcessCoreEntry& p = tree.procs[i].core.process();
    if (tree.procs[i].zombie) continue;
    if (p.has_autogroup_nice() && nodes[i].action == restore::SessionAction::NewSession)
      task::apply_autogroup_nice(tree.procs[i].pid(), p.autogroup_nice());
  }
  for (size_t i = 0; i < tree.procs.size(); i++) {
    const ProcessImage& p = tree.procs[i];
    // Its session is a restored one if its leader was restored as one.
    bool own_session = false;
    for (size_t j = 0; j < tree.procs.size(); j++)
      if (nodes[j].action == restore::SessionAction::NewSession && nodes[j].sid == nodes[i].sid) own_session = true;
    if (!p.zombie && p.core.process().has_autogroup_nice())
      task::check_autogroup_nice(p.pid(), p.core.process().autogroup_nice(), own_session);
  }
}

// What the fds of the tree may be opened with: the options of the command
// line; the objects made by ckpt are added once they exist.
files::RestoreFdOptions fd_options(const cli::Options& opts) {
  files::RestoreFdOptions o;
  o.shell_job = opts.shell_job;
  o.file_locks = opts.file_locks;
  o.ext_unix_sk = opts.ext_unix_sk;
  o.tcp_established = opts.tcp_established;
  o.tcp_close = opts.tcp_close;
  for (const auto& [fd, key] : opts.inherit_fds) o.inherited[key] = fd;
  // A --root that is no directory is a wrong command line (--json's class
  // "usage"), refused before anything is made.
  try {
    o.root = files::FsRoot::at(opts.root);
  } catch (const Error& e) {
    throw report::UsageFailure(e.what());
  }
  return o;
}

// The connections of the images stay locked until the tree runs: by the
// table the dump left, or by a new one if there is none (the images came
// from another machine, or the table was removed).  A table made here
// goes if the restore fails; the dump's stays, so that the restore can be
// tried again with the peers still waiting.
struct RestoreLock {
  std::string table;          // "" : nothing to unlock (--network-lock skip)
  net::NetworkLock made_here;
  bool stage = false;         // the network-lock scripts ran: network-unlock comes

  void unlock(const action::Scripts& scripts) {
    if (stage) scripts.run(action::Stage::NetworkUnlock);
    if (table.empty()) return;
    if (made_here.locked()) made_here.unlock();
    else if (net::NetworkLock::unlock_table(table)) LOG_INFO("Unlocked the TCP connections (nftables table %s)", table.c_str());
  }
};

RestoreLock lock_connections(const restore::TreeImage& tree, const cli::Options& opts,
                             const action::Scripts& scripts) {
  RestoreLock lock;
  std::vector<net::Connection> conns = files::image_connections(tree.files);
  if (!conns.empty() && !opts.tcp_close) {
    scripts.run(action::Stage::NetworkLock);
    lock.stage = true;
  }
  if (opts.network_lock == cli::Options::NetworkLock::Skip) return lock;
  lock.table = net::lock_table_name(tree.root().pid());
  if (conns.empty() || opts.tcp_close || net::NetworkLock::table_exists(lock.table)) return lock;
  lock.made_here = net::NetworkLock::lock(lock.table, conns);
  LOG_INFO("Locked %zu TCP connections until the tree runs (nftables table %s)", conns.size(), lock.table.c_str());
  return lock;
}

int highest_fd(const restore::TreeImage& tree) {
  int top = 2;
  for (const ProcessImage& p : tree.procs)
    if (!p.fds.empty()) top = std::max(top, p.fds.back());
  for (int fd : proc::list_fds(getpid())) top = std::max(top, fd);
  return top;
}

std::string absolute(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out = real;
  free(real);
  return out;
}

// What the restore took, from ckpt's clocks and what each task's code and
// blob left in its status; written into the images directory (the set is
// unchanged: stats-restore.img is outside its checks), shown by
// --display-stats and in --json.
void finish_stats(const image::ImageDir& dir, const cli::Options& opts, const restore::TreeImage& tree,
                  const std::vector<restore::RestorerArea>& areas, img::RestoreStatsEntry& st, report::Outcome& out) {
  uint64_t page_size = uint64_t(sysconf(_SC_PAGESIZE));
  uint32_t threads = 0, fds = 0;
  uint64_t files_ns = 0, memory_ns = 0, bytes = 0;
  for (size_t i = 0; i < tree.procs.size(); i++) {
    const ProcessImage& p = tree.procs[i];
    if (p.zombie || !areas[i].start()) continue;
    const ckpt_restorer_status& s = areas[i].args()->status;
    threads += uint32_t(p.threads.size());
    fds += uint32_t(p.fds.size());
    files_ns += s.files_ns;
    memory_ns += s.pages_ns;
    bytes += s.pages_done;
  }
  st.set_files_ns(files_ns);
  st.set_memory_ns(memory_ns);
  st.set_bytes_read(bytes);
  st.set_pages_restored(bytes / page_size);
  st.set_processes(uint32_t(tree.procs.size()));
  st.set_threads(threads);
  st.set_fds(fds);
  try {
    stats::write(dir, st);
  } catch (const Error& e) {
    // The tree runs: the stats are extra.
    LOG_WARN("the restore's stats are not saved: %s", e.what());
  }
  out.stats_json = report::message_json(st);
  if (opts.display_stats) fputs(stats::display(st).c_str(), opts.json ? stderr : stdout);
  fflush(stdout);
}

// The moment the last task of the tree began (CLOCK_MONOTONIC, as
// steady_clock), from what each wrote into its status.
stats::Clock::time_point last_created(const std::vector<restore::RestorerArea>& areas, stats::Clock::time_point floor) {
  stats::Clock::time_point last = floor;
  for (const restore::RestorerArea& a : areas)
    if (a.start() && a.args()->status.created_ns)
      last = std::max(last, stats::Clock::time_point(std::chrono::nanoseconds(a.args()->status.created_ns)));
  return last;
}

// Everything up to the restored tree running on its own; ckpt keeps no
// file or mapping of the restore once this returns.
int restore_tree(const cli::Options& opts, report::Outcome& out) {
  const stats::Clock::time_point started_at = stats::Clock::now();
  img::RestoreStatsEntry st;
  stats::Progress progress("restore", true);
  progress.set_phase("reading the images");
  // The command line's own checks (--root) before any image is read.
  files::RestoreFdOptions fd_opts = fd_options(opts);
  image::ImageDir dir = image::ImageDir::open(opts.images_dir);
  // Every file against the manifest first: a set changed since the dump
  // is refused, each change named, before any image is parsed.
  verify::require_verified(dir);
  action::Scripts scripts(opts.action_scripts, absolute(opts.images_dir));
  scripts.run(action::Stage::PreRestore);
  const restore::Tuning tuning = restore::Tuning::from_environment();
  restore::TreeImage tree = restore::load_tree_image(dir);
  const ProcessImage& root = tree.root();
  const size_t n = tree.procs.size();
  LOG_INFO("restoring pid %d and %zu more processes from %s", root.pid(), n - 1, dir.path().c_str());
  // Every check that needs nothing made: a refused restore names all it
  // found, and nothing exists yet.
  report::BlockerList found;
  found.check(root.pid(), "process", [&] { task::check_root_pdeath(root, opts.detach); });
  std::optional<restore::SessionPlan> session;
  found.check(root.pid(), "session", [&] { session = restore::plan_session(root, opts.shell_job); });
  std::vector<restore::NodePlan> nodes = check_tree(tree, session, fd_opts, found);
  // --manage-cgroups none|ignore: every task stays in the cgroups it
  // inherits from ckpt.
  std::vector<std::vector<cgroup::Move>> cgroups(n);
  if (opts.manage_cgroups == cli::Options::ManageCgroups::Default)
    found.check(root.pid(), "cgroup", [&] { cgroups = cgroup::plan_restore(tree); });
  // The tree's shared memory and deleted files, each made once by ckpt
  // before any task (a failure from then on removes the segments made).
  restore::SharedMemory shared = restore::SharedMemory::load(dir, tree, fd_opts.root);
  found.check(root.pid(), "deleted file", [&] { shared.check(); });
  refuse(found, root.pid());
  RestoreLock network_lock = lock_connections(tree, opts, scripts);
  raise_nofile();
  shared.create(dir);

  std::vector<restore::HelperFiles> helpers(n);
  for (size_t i = 0; i < n; i++)
    if (!tree.procs[i].zombie)
      helpers[i] = restore::open_helper_files(dir, tree.procs[i], tuning, &shared, fd_opts.root);
  Pipe go = make_pipe();
  restore::TreeFiles files = restore::plan_tree_files(tree, nodes);
  // fds on /proc entries of other processes of the tree wait until every
  // process exists: each task holds the write end until its children
  // exist, so the read end sees EOF once the last task is created.  (Made
  // before the fd numbers are chosen, like `go`.)
  Pipe created;
  if (files.late_opens) created = make_pipe();
  // Shared descriptions above every fd of the tree and of ckpt; the helper
  // fds above those.
  files.floor = highest_fd(tree) + 1;
  size_t own_placed = 0;
  for (const auto& numbers : files.own_number) own_placed += numbers.size();
  // A description meant for its own number goes above the floor when an fd
  // of ckpt or another member of its group holds that number.
  files.budget += std::min(own_placed, proc::list_fds(getpid()).size() + files.largest_group);
  files.ceiling = files.floor + int(files.budget) + 1;
  int helper_fd_first = files.ceiling;
  size_t most_helpers = 0;
  for (const auto& h : helpers) most_helpers = std::max(most_helpers, h.fds.size());
  struct rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (uint64_t(helper_fd_first) + most_helpers >= nofile.rlim_cur)
    throw Error(format("cannot restore pid %d: its tree needs fd numbers up to %zu, above the limit %llu", root.pid(),
                       size_t(helper_fd_first) + most_helpers, (unsigned long long)nofile.rlim_cur));

  // Memory children shared with their parents since fork, shared again:
  // its room reserved first, so that the restorer areas keep clear of it.
  std::vector<int> parent(n, -1);
  for (size_t i = 0; i < n; i++)
    for (size_t c : nodes[i].children) parent[c] = int(i);
  std::vector<std::pair<uint64_t, uint64_t>> busy;
  std::vector<proc::MapsEntry> before = own_maps();
  for (const proc::MapsEntry& m : before) busy.push_back({m.start, m.end});
  std::vector<std::vector<restore::Premap>> premaps =
      restore::plan_premaps(tree, parent, busy, task_size(before, root));
  note_cow_copies(tree, premaps);
  restore::PremapReservations reservations;
  reservations.reserve(premaps);

  std::vector<restore::RestorerArea> areas(n);
  for (size_t i = 0; i < n; i++) {
    const ProcessImage& p = tree.procs[i];
    if (p.zombie) continue;
    std::vector<proc::MapsEntry> maps = own_maps();  // with the areas made so far
    restore::ArgsInputs in{};
    in.image = &p;
    in.helper_fd_first = helper_fd_first;
    in.helpers = &helpers[i];
    in.our_vdso = restore::vdso_parts(maps);
    in.our_vdso_build_id = restore::own_vdso_build_id();
    in.our_vdso_functions = restore::own_vdso_functions(in.our_vdso);
    in.task_size = task_size(maps, p);
    in.tuning = &tuning;
    in.premaps = &premaps[i];
    areas[i] = restore::build_restorer_area(in, maps);
  }
  restore::TreeRun run;
  run.dir = &dir;
  run.files = &files;
  run.files_image = &tree.files;
  fd_opts.objects = &shared.fds();
  run.fd_opts = &fd_opts;
  run.fail_pid = tuning.fail_pid;
  run.go_fd = go.r.get();
  run.go_write_fd = go.w.get();
  for (size_t i = 0; i < n; i++) {
    run.tasks.push_back(
        task_plan(tree.procs[i], nodes[i], &helpers[i], helper_fd_first, &areas[i], shared.fds(), fd_opts.root));
    run.tasks.back().cgroups = cgroups[i];
  }
  run.created_r = created.r.get();
  run.created_w = created.w.get();
  for (size_t i = 0; i < n; i++) {
    run.tasks[i].premaps = &premaps[i];
    run.tasks[i].image = &tree.procs[i];
    run.tasks[i].helpers = &helpers[i];
  }

  BlockChld block_chld;
  Subreaper subreaper;
  restore::TreeTracer tracer;
  tracer.set_kill_point(tuning.kill);
  bool seccomp = false;  // some thread gets filters: every task is traced with them suspended
  for (size_t i : restore::creation_order(nodes)) {
    const ProcessImage& p = tree.procs[i];
    if (p.zombie) {
      tracer.add(p.pid(), p.pid(), nullptr, p.zombie_status);
      continue;
    }
    for (const img::ThreadCoreEntry& t : p.threads) {
      tracer.add(pid_t(t.tid()), p.pid(), &areas[i]);
      if (t.seccomp_filters_size()) seccomp = true;
    }
    if (int d = task::dumpable_after_creds(p.core.process()); d >= 0) tracer.set_dumpable(p.pid(), d);
  }
  // The progress line's total: what the blobs read; their counts move it.
  for (size_t i = 0; i < n; i++)
    if (!tree.procs[i].zombie) progress.set_part(i, blob_page_bytes(tree.procs[i], premaps[i]));
  progress.set_phase("creating the tree");
  if (progress.active())
    tracer.set_idle([&] {
      uint64_t done = 0;
      for (const restore::RestorerArea& a : areas)
        if (a.start()) done += __atomic_load_n(&a.args()->status.pages_done, __ATOMIC_RELAXED);
      progress.set_done(done);
    });
  fflush(stdout);
  fflush(stderr);
  const stats::Clock::time_point forking = stats::Clock::now();
  st.set_load_ns(stats::ns_between(started_at, forking));
  pid_t child = restore::clone_with_pid(root.pid(), opts.restore_sibling);
  if (child == 0) restore::run_root(run);
  scripts.set_init_pid(root.pid());
  tracer.root().mark_created();
  created.w.reset();  // the root has its copy
  go.r.reset();
  restore::kill_point(tuning.kill, restore::KillPoint::AfterFork);
  tracer.root().seize(seccomp);
  ckpt_restorer_rseq rseq = tracer.root().rseq_config();
  for (auto& area : areas)
    if (area.start()) area.args()->ckpt_rseq = rseq;  // the children inherit the root's
  if (write(go.w.get(), "g", 1) != 1) throw sys_error(format("cannot start the restore of pid %d", root.pid()));
  go.w.reset();
  restore::kill_point(tuning.kill, restore::KillPoint::AfterGo);

  auto started = std::chrono::steady_clock::now();
  tracer.run(started + kRestoreTimeout);
  restore::kill_point(tuning.kill, restore::KillPoint::AllHeld);
  const stats::Clock::time_point held = stats::Clock::now();
  st.set_fork_ns(stats::ns_between(forking, last_created(areas, forking)));
  progress.set_phase("releasing the tree");
  // Every task is in place and held: a script failing here or at
  // pre-resume fails the restore, the held tree is killed, and nothing is
  // committed yet (the images can be restored again).
  scripts.run(action::Stage::PostRestore);
  scripts.run(action::Stage::PreResume);
  // Every thread is held: the scheduling goes on last, so that no
  // real-time thread competes with the restore (see task/sched.h); before
  // the commit of the shared memory, so that a failure here leaves the
  // images restorable again.
  set_scheduling(tree);
  set_process_knobs(tree, nodes);
  // Every task has attached its SysV segments: those that were marked for
  // removal are marked again.
  shared.commit();
  write_pidfile(opts.pidfile, root.pid());
  subreaper.restore();
  restore::kill_point(tuning.kill, restore::KillPoint::BeforeRelease);
  // -s: every process that ran at the dump is left in a SIGSTOP stop.
  // The connections are unlocked while every thread is still held, and
  // each sends a window probe: a peer whose window update the lock dropped
  // learns at once that the connection is back, rather than at its
  // persist timer (seconds later).
  network_lock.unlock(scripts);
  if (!opts.tcp_close) files::wake_connections(tree.files);
  tracer.release([&](pid_t pid) {
    for (const ProcessImage& p : tree.procs)
      if (p.pid() == pid) return p.stop_signal() ? p.stop_signal() : opts.leave_stopped ? SIGSTOP : 0;
    return 0;
  });
  auto took = std::chrono::steady_clock::now() - started;
  // The tree runs: a failing script fails the command, the tree runs on.
  scripts.run(action::Stage::PostResume);
  for (size_t i = 0; i < n; i++)
    if (!tree.procs[i].zombie) log_restored(tree.procs[i], areas[i], premaps[i], took);
  if (n > 1) LOG_INFO("tree of pid %d restored: %zu processes", root.pid(), n);
  progress.finish();
  st.set_release_ns(stats::ns_since(held));
  st.set_total_ns(stats::ns_since(started_at));
  finish_stats(dir, opts, tree, areas, st, out);
  return root.pid();
}

// --exec-cmd: ckpt becomes the command, which so is the parent of the
// restored root (CRIU's meaning); its fds are ckpt's but the log's.
[[noreturn]] void exec_command(const cli::Options& opts) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(opts.exec_cmd.c_str()));
  for (const std::string& a : opts.exec_cmd_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  LOG_INFO("Running the --exec-cmd command %s", opts.exec_cmd.c_str());
  log::close_file();
  fflush(stdout);
  fflush(stderr);
  execvp(argv[0], argv.data());
  throw sys_error(format("cannot run the --exec-cmd command %s (the restored tree runs on)", opts.exec_cmd.c_str()));
}

}  // namespace

int run_restore(const cli::Options& opts) {
  // With --json the report comes once the tree runs, before ckpt waits for
  // the root (without -d).
  int pid = report::run_reported("restore", opts.json,
                                 [&](report::Outcome& out) { return restore_tree(opts, out); });
  if (!opts.exec_cmd.empty()) exec_command(opts);
  // A sibling is not ckpt's to wait for: ckpt's parent is its parent.
  if (opts.detach || opts.restore_sibling) return 0;
  return wait_for_exit(pid);
}

}  // namespace ckpt
