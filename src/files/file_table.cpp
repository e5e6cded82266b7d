// The dump side of files: each fd is handed to the first module that claims
// it; fds sharing one open file description become one FileEntry.
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>


#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/file_locks.h"
#include "files/files.h"
#include "files/module.h"
#include "files/proc_entry.h"

namespace ckpt::files {

namespace {

// How the descriptions of two fds of our own process compare: <0, 0 (the
// same description), >0, in the kernel's (obfuscated) order of file objects.
int compare_descriptions(int a, int b) {
  pid_t self = getpid();
  long r = syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);
  if (r < 0) throw sys_error("kcmp(KCMP_FILE) failed; ckpt needs a kernel with CONFIG_KCMP");
  if (r > 2) throw Error("kcmp(KCMP_FILE) cannot order file descriptions");
  return r == 0 ? 0 : r == 1 ? -1 : 1;
}

}  // namespace

const FileModule* module_for(const OpenFd& fd, const DumpFdOptions& opts) {
  if (opts.externals.count(fd.link)) return &kExternalModule;
  return claimant(fd);
}

void FileTable::preflight(pid_t pid, pid_t proc_id, const std::vector<int>& fds, std::vector<Blocker>& out) const {
  for (int n : fds) {
    OpenFd fd;
    try {
      fd = describe_fd_from_proc(proc_id, n);
    } catch (const Error&) {
      continue;  // closed meanwhile (a zombie thread's table): the dump will see
    }
    const FileModule* module = module_for(fd, opts_);
    if (!module) {
      out.push_back({.pid = pid, .fd = n, .reason = kind_name(fd) + " is not supported yet", .kind = kind_name(fd)});
      continue;
    }
    if (!module->blocker) continue;
    std::string why = module->blocker(fd, opts_);
    if (!why.empty()) out.push_back({.pid = pid, .fd = n, .reason = why, .kind = module->name});
  }
}

uint32_t FileTable::find(const std::function<int(int our_fd)>& compare) const {
  auto at = std::lower_bound(known_.begin(), known_.end(), 0,
                             [&](const Known& k, int) { return compare(k.file.get()) < 0; });
  if (at != known_.end() && compare(at->file.get()) == 0) return at->id;
  return 0;
}

int FileTable::description(uint32_t id) const { return by_id_.at(id - 1); }

std::string FileTable::first_user(uint32_t id) const {
  const Users& u = users_.at(id - 1);
  return format("fd %d of pid %d", u.first_fd, u.first_pid);
}

uint32_t FileTable::id_of(const OpenFd& fd, DumpFdContext& ctx) {
  int ours = fd.file.get();
  auto same_as = [ours](int known) { return compare_descriptions(known, ours); };
  if (uint32_t id = find(same_as)) {
    LOG_DEBUG("fd %d of pid %d shares file %u", fd.fd, ctx.pid, id);
    return id;
  }

  const FileModule* module = module_for(fd, opts_);
  if (!module) throw Error(kind_name(fd) + " is not supported yet");
  // The id is taken before dump(): a module may add descriptions of its own
  // (an fd in flight) while it dumps this one.
  uint32_t id = uint32_t(entries_.size() + 1);
  UniqueFd keep(fcntl(ours, F_DUPFD_CLOEXEC, 0));
  if (!keep) throw sys_error("cannot duplicate a stolen fd");
  by_id_.push_back(keep.get());
  auto at = std::lower_bound(known_.begin(), known_.end(), ours, [](const Known& k, int file) {
    return compare_descriptions(k.file.get(), file) < 0;
  });
  known_.insert(at, {std::move(keep), id});
  entries_.emplace_back();
  users_.push_back({ctx.pid, fd.fd, {}});

  img::FileEntry entry;
  entry.set_id(id);
  entry.set_kind(module->kind);
  module->dump(fd, ctx, entry);
  LOG_DEBUG("fd %d of pid %d: file %u, %s %s", fd.fd, ctx.pid, id, module->name, module->describe(entry).c_str());
  entries_[id - 1] = std::move(entry);
  return id;
}

uint32_t FileTable::add_description(const OpenFd& fd, DumpFdContext& ctx) { return id_of(fd, ctx); }

std::vector<img::FdinfoEntry> FileTable::add_process(pid_t pid, pid_t proc_id, std::vector<OpenFd>& fds,
                                                     compel::Infection* infection) {
  DumpFdContext ctx{opts_, *this, pid, proc_id, infection};
  std::vector<img::FdinfoEntry> result;
  for (OpenFd& fd : fds) {
    img::FdinfoEntry e;
    e.set_fd(uint32_t(fd.fd));
    try {
      e.set_id(id_of(fd, ctx));
      users_[e.id() - 1].pids.insert(pid);
      // --file-locks: the locks fdinfo lists on this fd, whatever its kind
      // (file_locks.h); per fd, not per description: a POSIX lock shows on
      // its owner's fds only.
      if (opts_.file_locks) add_locks(fd, pid, entries_[e.id() - 1]);
    } catch (const Error& err) {
      throw Error(format("cannot dump fd %d of pid %d: %s", fd.fd, pid, err.what()));
    }
    // The table keeps its own duplicate of a new description: ours goes
    // now, so that a process of N fds costs N of ckpt's, not 2N.
    fd.file.reset();
    e.set_cloexec(fd.info.flags & O_CLOEXEC);
    result.push_back(std::move(e));
  }
  return result;
}

void FileTable::add_locks(const OpenFd& fd, pid_t pid, img::FileEntry& entry) {
  save_file_locks(fd.info, pid, entry);
  // Restore takes them right after the open, which an fd made per fd
  // (a terminal) does not go through.
  if (!entry.locks().empty() && module_of(entry.kind()).open_per_fd)
    throw Error(format("it holds %s, and locks on a %s are not supported yet", describe_lock(entry.locks(0)).c_str(),
                       module_of(entry.kind()).name));
}

void FileTable::finish(const std::map<pid_t, pid_t>& parent_of) {
  DumpTreeContext ctx{opts_, *this};
  for (const FileModule* m : modules())
    if (m->finish) m->finish(ctx);
  check_proc_sharing(parent_of);
}

void FileTable::check_proc_sharing(const std::map<pid_t, pid_t>& parent_of) const {
  auto is_self_or_ancestor = [&](pid_t q, pid_t of) {
    for (pid_t p = of;;) {
      if (p == q) return true;
      auto it = parent_of.find(p);
      if (it == parent_of.end()) return false;
      p = it->second;
    }
  };
  for (size_t i = 0; i < entries_.size(); i++) {
    const img::FileEntry& e = entries_[i];
    const Users& u = users_[i];
    std::optional<pid_t> named = tree_process_named(e);
    if (!named || u.pids.size() < 2) continue;
    pid_t q = *named;
    std::string what = e.has_reg() ? "description of " + e.reg().identity().path() : format("pidfd of pid %d", q);
    for (pid_t user : u.pids)
      if (!is_self_or_ancestor(q, user))
        throw Error(format("cannot dump fd %d of pid %d: its %s is shared with other processes "
                           "of the tree, and pid %d, which it names, is neither pid %d nor an ancestor of it (a "
                           "shared description is opened before its users are forked); not supported yet",
                           u.first_fd, u.first_pid, what.c_str(), q, user));
  }
}

}  // namespace ckpt::files
