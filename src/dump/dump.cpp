// ckpt dump: freeze the tree, read every process from outside and inside,
// write the images, then kill the tree or let it run on.
//
// Failure at any step unwinds: the Infection cures its process, pending
// images are unlinked, the FrozenTree releases every task as it was found.
#include <netinet/in.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>

#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "action/action_script.h"
#include "cgroup/cgroup.h"
#include "ckpt/error.h"
#include "ckpt/log.h"
#include "commands.h"
#include "compel/compel.h"
#include "dump/context.h"
#include "dump/inventory.h"
#include "dump/kill_point.h"
#include "dump/preflight.h"
#include "dump/process.h"
#include "dump/task_state.h"
#include "dump/tree.h"
#include "files/inet_diag.h"
#include "files/tcp_connection.h"
#include "net/network_lock.h"
#include "proc/read.h"
#include "report/json.h"
#include "report/report.h"
#include "stats/progress.h"
#include "stats/stats.h"

namespace ckpt {

namespace {

double ms_since(const timespec& start) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return double(now.tv_sec - start.tv_sec) * 1e3 + double(now.tv_nsec - start.tv_nsec) / 1e6;
}

uint64_t realtime_ns() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return uint64_t(t.tv_sec) * 1000000000 + uint64_t(t.tv_nsec);
}

// The file table keeps a duplicate of every description of the tree open,
// and each process's stolen fds are held together: allow as many as we may.
void raise_nofile() {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// State ckpt cannot restore yet, found in the frozen tree before anything
// is read or written: the dump is refused, listing every blocker with the
// process (and fd) and what it holds, and the tree runs on as it was.  The
// same pre-flight as `ckpt check -t` (dump/preflight.h).
void refuse_unrestorable(const compel::FrozenTree& tree, pid_t root, const files::FileTable& files,
                         const cli::Options& opts) {
  dump::refuse(dump::preflight(dump::view_of(tree, root), files, opts), root);
}

}  // namespace

// The tree's established connections, locked before any of their sockets
// is touched: while the tree is frozen and after it is killed, the kernel
// must neither answer their peers nor reset them.
net::NetworkLock lock_connections(const compel::FrozenTree& tree, pid_t root, const cli::Options& opts,
                                  const action::Scripts& scripts, bool& stage_ran) {
  if (!opts.tcp_established || opts.tcp_close) return {};
  std::vector<std::pair<pid_t, std::vector<int>>> fds;
  for (const compel::Process& p : tree.processes()) {
    if (p.state == compel::TaskState::Zombie) continue;
    pid_t at = dump::proc_id_of(p);
    fds.emplace_back(at, proc::list_fds(at));
  }
  std::vector<net::Connection> conns = files::tree_connections(fds);
  if (conns.empty()) return {};
  // The scripts' stage comes whoever locks: with --network-lock skip they
  // may be what locks the network.
  scripts.run(action::Stage::NetworkLock);
  stage_ran = true;
  if (opts.network_lock == cli::Options::NetworkLock::Skip) {
    LOG_INFO("%zu TCP connections are not locked (--network-lock skip)", conns.size());
    return {};
  }
  net::NetworkLock lock = net::NetworkLock::lock(net::lock_table_name(root), conns);
  LOG_INFO("Locked %zu TCP connections (nftables table %s)", conns.size(), lock.table().c_str());
  return lock;
}

// CKPT_DUMP_TEST_FAIL=after-network-lock: the tests' way to make a dump
// fail once its connections are locked; =before-commit: with every image
// written (and the links of --link-remap made), just before the commit.
void fail_if_asked(const char* point) {
  const char* v = std::getenv("CKPT_DUMP_TEST_FAIL");
  if (v && std::strcmp(v, point) == 0) throw Error(format("failing %s, as CKPT_DUMP_TEST_FAIL asks", point));
}

// A listing of the kernel's TCP sockets for the pre-flight; none if the
// kernel cannot list them (each socket then asks and gets the error).
std::optional<files::diag::InetIndex> tcp_listing() {
  try {
    return files::diag::InetIndex(IPPROTO_TCP);
  } catch (const Error& e) {
    LOG_DEBUG("no listing of TCP sockets: %s", e.what());
    return std::nullopt;
  }
}

// --freeze-cgroup PATH: a cgroup v2 directory (its cgroup.freeze freezes
// every task in it and below).
void check_freeze_cgroup(const std::string& path) {
  if (path.empty()) return;
  struct statfs fs;
  struct stat st;
  if (statfs(path.c_str(), &fs) < 0 || stat(path.c_str(), &st) < 0)
    throw sys_error(format("cannot freeze cgroup %s (--freeze-cgroup)", path.c_str()));
  if (!S_ISDIR(st.st_mode) || fs.f_type != CGROUP2_SUPER_MAGIC)
    throw Error(format("cannot freeze cgroup %s (--freeze-cgroup): it is not a cgroup v2 directory", path.c_str()));
  if (access((path + "/cgroup.freeze").c_str(), W_OK) < 0)
    throw Error(format("cannot freeze cgroup %s (--freeze-cgroup): it has no cgroup.freeze (the root cgroup cannot "
                       "be frozen)",
                       path.c_str()));
}

// -s / --leave-stopped: every process of the tree gets SIGSTOP while it is
// still held; on detach it takes the signal and enters a group stop, so no
// instruction of the tree runs after the dump.  (A process stopped when it
// was seized is put back into its stop anyway.)
void stop_tree(const compel::FrozenTree& tree) {
  for (const compel::Process& p : tree.processes())
    if (p.state != compel::TaskState::Zombie && kill(p.pid, SIGSTOP) < 0)
      throw sys_error(format("cannot leave pid %d stopped", p.pid));
}

std::string absolute(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out = real;
  free(real);
  return out;
}

// What a dump took, written after its commit (stats/stats.h), shown by
// --display-stats and in --json.
void finish_stats(const image::ImageDir& dir, const cli::Options& opts, img::DumpStatsEntry& entry,
                  report::Outcome& out) {
  entry.set_bytes_written(stats::images_bytes(dir));
  entry.set_pages_skipped_zero(stats::skipped_pages(entry.pages_scanned(), entry.pages_written(), entry.pages_shared()));
  try {
    stats::write(dir, entry);
  } catch (const Error& e) {
    // The images are committed and the dump is done: the stats are extra.
    LOG_WARN("the dump's stats are not saved: %s", e.what());
  }
  out.stats_json = report::message_json(entry);
  if (opts.display_stats) fputs(stats::display(entry).c_str(), opts.json ? stderr : stdout);
}

int dump_tree(const cli::Options& opts, report::Outcome& out) {
  if (opts.tree_pid <= 0) throw report::UsageFailure("dump needs the pid of the tree to dump (-t PID)");
  if (opts.images_dir.empty()) throw report::UsageFailure("dump needs an images directory (-D DIR)");
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  const stats::Clock::time_point started = stats::Clock::now();
  img::DumpStatsEntry st;
  stats::Progress progress("dump", true);
  progress.set_phase("freezing the tree");
  pid_t root = opts.tree_pid;
  raise_nofile();
  dump::read_kill_point();

  image::ImageDir dir = image::ImageDir::create(opts.images_dir);
  LOG_INFO("Dumping the tree of pid %d into %s", root, dir.path().c_str());
  check_freeze_cgroup(opts.freeze_cgroup);
  action::Scripts scripts(opts.action_scripts, absolute(opts.images_dir));
  scripts.run(action::Stage::PreDump);
  dump::PendingImages images(dir);
  uint64_t page_size = uint64_t(sysconf(_SC_PAGESIZE));
  dump::SharedObjects shared(page_size, opts.ghost_limit);
  if (opts.link_remap) shared.enable_link_remap(std::to_string(root));

  compel::SeizeOptions seize_opts;
  seize_opts.warn = [](const std::string& what) { LOG_WARN("%s", what.c_str()); };
  seize_opts.timeout_ms = opts.freeze_timeout_s * 1000;
  seize_opts.freezer_cgroup = opts.freeze_cgroup;
  compel::FrozenTree tree = compel::FrozenTree::seize(root, seize_opts);
  timespec frozen;
  clock_gettime(CLOCK_MONOTONIC, &frozen);
  st.set_freeze_ns(stats::ns_since(started));
  // The total of the progress line: each process's anonymous memory until
  // its pages are planned.
  for (const compel::Process& p : tree.processes())
    if (p.state != compel::TaskState::Zombie)
      progress.set_part(uint64_t(p.pid), stats::anon_resident_bytes(dump::proc_id_of(p)));
  progress.set_phase("checking the tree");
  uint64_t dump_time_ns = realtime_ns();
  LOG_INFO("Froze %zu processes", tree.processes().size());
  scripts.set_init_pid(root);  // CRTOOLS_INIT_PID from here on, as CRIU once it has the tree
  files::TreeTasks tasks = dump::tree_tasks(tree);
  // Declared before the held connections: on a failure they are closed,
  // then unlocked, then the tree runs on.
  net::NetworkLock network_lock;
  files::TcpRepairs tcp_repairs;
  std::optional<files::diag::InetIndex> tcp_sockets = tcp_listing();
  files::DumpFdOptions fd_opts = dump::fd_options(opts);
  fd_opts.tcp_repairs = &tcp_repairs;
  fd_opts.tcp_sockets = tcp_sockets ? &*tcp_sockets : nullptr;
  fd_opts.objects = &shared;
  fd_opts.tree = &tasks;
  files::FileTable files(fd_opts);
  refuse_unrestorable(tree, root, files, opts);
  bool network_stage = false;  // network-lock ran: network-unlock comes if the tree runs on
  network_lock = lock_connections(tree, root, opts, scripts, network_stage);
  fail_if_asked("after-network-lock");
  dump::kill_point(dump::KillPoint::AfterFreeze);

  dump::DumpContext ctx{opts, tree, images, files, page_size, {}, &shared, {}, &progress};
  progress.set_phase("dumping");
  // One process at a time, parents first: each is infected, asked and cured
  // before the next, and the file table spans them all.  A zombie is only a
  // pstree record.
  size_t zombies = 0;
  for (const compel::Process& p : tree.processes()) {
    if (p.state == compel::TaskState::Zombie) {
      ++zombies;
      continue;
    }
    dump::dump_process(ctx, p);
  }
  {
    stats::Timed t(ctx.stats.files_ns);
    files.finish(dump::parents_of(tree));
  }
  shared.check_ghost_dirs();
  const stats::Clock::time_point writing = stats::Clock::now();

  // Shared memory and deleted files once for the tree, read while it is
  // still frozen.
  shared.write_images(images);
  image::ImageWriter& files_img = images.open(image::Kind::Files);
  for (const img::FileEntry& e : files.entries()) files_img.write(e);
  dump::write_pstree(images, tree, root);
  image::ImageWriter inventory(dir, image::Kind::Inventory);
  inventory.write(dump::make_inventory(uint32_t(root), uint32_t(ctx.page_size), opts.shell_job, dump_time_ns));
  // A tree left running needs not wait for the images to reach the disk; a
  // tree to be killed must, or a failed commit would lose it.  With action
  // scripts it waits for the post-dump stage, which comes with the images
  // committed and the tree still frozen (as CRIU's), and may fail the dump.
  // -s leaves the tree stopped instead of killing it (and wins over -R).
  double frozen_ms = 0;
  bool keep_tree = opts.leave_running || opts.leave_stopped;
  auto let_go = [&] {
    if (opts.leave_stopped) stop_tree(tree);
    tree.release();
    frozen_ms = ms_since(frozen);
    // A stopped tree keeps its connections locked, as CRIU leaves them:
    // it is meant to be restored elsewhere or killed.
    if (opts.leave_stopped && network_lock.locked()) {
      LOG_INFO("The TCP connections stay locked (nftables table %s): the tree is left stopped",
               network_lock.table().c_str());
      network_lock.keep();
    } else {
      network_lock.unlock();
      if (network_stage) scripts.run(action::Stage::NetworkUnlock);
    }
    LOG_INFO("Released the tree of pid %d%s", root, opts.leave_stopped ? ", stopped (--leave-stopped)" : "");
  };
  bool released = false;
  if (keep_tree && scripts.empty()) {
    let_go();
    released = true;
  }
  timespec committing;
  clock_gettime(CLOCK_MONOTONIC, &committing);
  progress.set_phase("committing");
  fail_if_asked("before-commit");
  images.commit_all(inventory);
  // The images name the links of --link-remap: they stay for the restore.
  shared.keep_links();
  const stats::Clock::time_point committed = stats::Clock::now();
  dump::kill_point(dump::KillPoint::AfterCommit);
  LOG_INFO("Committed the images in %.0f ms", ms_since(committing));
  scripts.run(action::Stage::PostDump);
  if (keep_tree && !released) let_go();
  if (!keep_tree) {
    // Their sockets go silently with the tree; the lock stays until the
    // restore.
    tcp_repairs.silence();
    tree.kill([] { dump::kill_point(dump::KillPoint::InKill); });
    frozen_ms = ms_since(frozen);
    if (network_lock.locked()) {
      LOG_INFO("The TCP connections stay locked until the restore (nftables table %s)", network_lock.table().c_str());
      network_lock.keep();
    }
    LOG_INFO("Killed the tree of pid %d", root);
  }
  LOG_INFO("Dumped the tree of pid %d: %zu processes (%zu zombies), %zu open file descriptions", root,
           tree.processes().size(), zombies, files.entries().size());
  LOG_INFO("Dumped pid %d: %llu VMAs, %llu pages (%.1f MiB; %llu more shared with a parent since fork, stored "
           "once), %llu fds in %.0f ms; frozen for %.0f ms", root, (unsigned long long)ctx.stats.vmas,
           (unsigned long long)ctx.stats.pages, double(ctx.stats.pages * ctx.page_size) / (1 << 20),
           (unsigned long long)ctx.stats.shared_pages, (unsigned long long)ctx.stats.fds, ms_since(start), frozen_ms);
  progress.finish();
  st.set_memory_ns(ctx.stats.memory_ns);
  st.set_files_ns(ctx.stats.files_ns);
  st.set_write_ns(stats::ns_between(writing, committed));
  st.set_frozen_ns(uint64_t(frozen_ms * 1e6));
  st.set_pages_scanned(ctx.stats.pages_scanned);
  st.set_pages_written(ctx.stats.pages);
  st.set_pages_shared(ctx.stats.shared_pages);
  st.set_processes(uint32_t(tree.processes().size()));
  uint32_t threads = 0;
  for (const compel::Process& p : tree.processes()) threads += uint32_t(p.threads.size());
  st.set_threads(threads);
  st.set_fds(uint32_t(ctx.stats.fds));
  st.set_total_ns(stats::ns_since(started));
  finish_stats(dir, opts, st, out);
  return 0;
}

int run_dump(const cli::Options& opts) {
  return report::run_reported("dump", opts.json, [&](report::Outcome& out) { return dump_tree(opts, out); });
}

}  // namespace ckpt
