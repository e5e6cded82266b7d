#include "dump/process.h"

#include <signal.h>
#include <sys/syscall.h>

#include <functional>
#include <optional>

#include "cgroup/cgroup.h"
#include "ckpt/error.h"
#include "ckpt/log.h"
#include "dump/fds.h"
#include "dump/kill_point.h"
#include "dump/memory.h"
#include "dump/task_state.h"
#include "mem/numa_policy.h"
#include "proc/read.h"
#include "stats/stats.h"

namespace ckpt::dump {

namespace {

// Everything only the process can tell, and everything that must be taken
// from inside it (pages, fds), while the parasite is in.  The Infection
// cures the process when it goes out of scope, on success or failure.
ParasiteReport run_parasite(DumpContext& ctx, pid_t pid, pid_t proc_id, const MemorySnapshot& mem,
                            const std::vector<int>& fds, image::PagesWriter& pages) {
  LOG_DEBUG("Infecting pid %d", pid);
  compel::Infection infection = compel::Infection::infect(ctx.tree, pid);
  kill_point(KillPoint::AfterInfect);
  ParasiteReport report;
  report.process = infection.process_info();
  report.threads = infection.thread_info();
  long brk = infection.syscall(SYS_brk, 0);
  if (brk < 0) throw Error(format("cannot dump pid %d: brk(0) in it failed with %ld", pid, brk));
  report.brk = uint64_t(brk);
  std::vector<uint64_t> starts;
  for (const mem::Vma& v : mem.vmas) starts.push_back(v.entry.start());
  report.area_policies = infection.area_policies(starts);
  // Fds first: a refused fd fails the dump before the long part.
  {
    stats::Timed t(ctx.stats.files_ns);
    ctx.stats.fds += dump_fds(ctx, infection, pid, proc_id, fds);
  }
  {
    stats::Timed t(ctx.stats.memory_ns);
    std::function<void(uint64_t)> progress;
    if (ctx.progress && ctx.progress->active()) progress = [&](uint64_t n) { ctx.progress->add_done(n); };
    dump_pages(infection, mem, pages, pid, progress);
  }
  kill_point(KillPoint::AfterPages);
  infection.cure();
  LOG_DEBUG("Cured pid %d", pid);
  return report;
}

// The parent's memory if it is a process of the tree already dumped (the
// root's parent is not).
const DumpedMemory* parent_memory(const DumpContext& ctx, const compel::Process& process) {
  auto it = ctx.dumped_memory.find(process.ppid);
  return it == ctx.dumped_memory.end() ? nullptr : &it->second;
}

// A working directory or root that was deleted (rmdir after chdir or
// chroot) is saved as a ghost directory, made again at restore.  Recorded
// before the parasite goes in: a refusal leaves the process as it was.
void record_deleted_dirs(DumpContext& ctx, const ProcessSnapshot& snap, img::FsEntry& fs) {
  struct Dir {
    const std::string& shown;
    const char* link;
    const char* what;
    void (img::FsEntry::*set)(uint32_t);
  };
  for (const Dir& d : {Dir{snap.cwd, "cwd", "working directory", &img::FsEntry::set_cwd_ghost_id},
                       Dir{snap.root, "root", "root", &img::FsEntry::set_root_ghost_id}}) {
    if (!d.shown.ends_with(" (deleted)")) continue;
    try {
      (fs.*d.set)(ctx.shared->ghost_dir(snap.proc_id, d.link, d.shown));
    } catch (const Error& e) {
      throw Error(format("cannot dump pid %d: its %s %s: %s", snap.pid, d.what, d.shown.c_str(), e.what()));
    }
  }
}

}  // namespace

void dump_process(DumpContext& ctx, const compel::Process& process) {
  pid_t pid = process.pid;
  LOG_INFO("Dumping pid %d", pid);
  // From outside first: registers and signals before the parasite changes
  // them, areas and fds before it adds its own.
  ProcessSnapshot snap = snapshot_process(ctx.tree, process);
  img::FsEntry deleted_dirs;
  record_deleted_dirs(ctx, snap, deleted_dirs);
  // (With its main thread gone, /proc shows the process through a live
  // thread; messages from these then name that thread.)
  std::optional<stats::Timed> scanning(std::in_place, ctx.stats.memory_ns);
  MemorySnapshot mem =
      snapshot_memory(snap.proc_id, snap.stat, ctx.page_size, *ctx.shared, parent_memory(ctx, process));
  scanning.reset();
  // The estimate for this process becomes the exact figure.
  if (ctx.progress) ctx.progress->set_part(uint64_t(pid), mem.plan.bytes());
  std::vector<int> fds = proc::list_fds(snap.proc_id);
  // --manage-cgroups none|ignore: none recorded, so the restore leaves the
  // process in the cgroups it inherits.
  std::vector<img::CgroupEntry> cgroups;
  if (ctx.opts.manage_cgroups == cli::Options::ManageCgroups::Default) cgroups = cgroup::dump_cgroups(snap.proc_id);

  image::PagesWriter& pages = ctx.images.open_pages(uint64_t(pid));
  ParasiteReport report = run_parasite(ctx, pid, snap.proc_id, mem, fds, pages);
  mem.mm.set_brk(report.brk);
  for (size_t i = 0; i < mem.vmas.size(); i++) {
    img::VmaEntry& v = mem.vmas[i].entry;
    const compel::Infection::AreaPolicy& a = report.area_policies.at(i);
    img::MempolicyEntry policy;
    if (mem::policy_of(format("cannot dump memory area %llx-%llx of pid %d", (unsigned long long)v.start(),
                              (unsigned long long)v.end(), pid),
                       a.ret, a.mode, a.flags, a.nodes, policy)) {
      LOG_DEBUG("area %llx of pid %d: memory policy %s", (unsigned long long)v.start(), pid,
                mem::policy_text(policy).c_str());
      *v.mutable_mempolicy() = policy;
    }
  }

  for (size_t i = 0; i < snap.threads.size(); ++i) {
    img::CoreEntry core = make_core(snap, i, report);
    if (core.has_process())
      for (const img::CgroupEntry& e : cgroups) *core.mutable_process()->add_cgroups() = e;
    ctx.images.open(image::Kind::Core, uint64_t(snap.threads[i].tid)).write(core);
  }
  write_memory_images(ctx.images, pid, mem, uint32_t(pid));
  img::FsEntry fs = make_fs(snap, report);
  fs.MergeFrom(deleted_dirs);
  ctx.images.open(image::Kind::Fs, uint64_t(pid)).write(fs);

  ctx.stats.vmas += mem.vmas.size();
  ctx.stats.pages += mem.plan.pages();
  ctx.stats.shared_pages += mem.plan.shared_pages();
  ctx.stats.pages_scanned += mem.pages_scanned;
  ctx.dumped_memory[pid] = {snap.proc_id, mem::DumpedPages(mem.plan, uint32_t(pid), ctx.page_size)};
}

}  // namespace ckpt::dump
