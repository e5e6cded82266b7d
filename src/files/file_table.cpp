// The dump side of files: each fd is handed to the first module that claims
// it; fds sharing one open file description become one FileEntry.
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/files.h"
#include "files/module.h"

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

const FileModule* claimant(const OpenFd& fd) {
  for (const FileModule* m : modules())
    if (m->claims(fd)) return m;
  return nullptr;
}

}  // namespace

uint32_t FileTable::id_of(const OpenFd& fd, pid_t pid) {
  auto at = std::lower_bound(known_.begin(), known_.end(), fd.file.get(), [](const Known& k, int file) {
    return compare_descriptions(k.file.get(), file) < 0;
  });
  if (at != known_.end() && compare_descriptions(at->file.get(), fd.file.get()) == 0) {
    LOG_DEBUG("fd %d of pid %d shares file %u", fd.fd, pid, at->id);
    return at->id;
  }

  const FileModule* module = claimant(fd);
  if (!module) throw Error(kind_name(fd) + " is not supported yet");
  img::FileEntry entry;
  entry.set_id(uint32_t(entries_.size() + 1));
  entry.set_kind(module->kind);
  module->dump(fd, opts_, entry);
  LOG_DEBUG("fd %d of pid %d: file %u, %s %s", fd.fd, pid, entry.id(), module->name,
            module->describe(entry).c_str());

  UniqueFd keep(fcntl(fd.file.get(), F_DUPFD_CLOEXEC, 0));
  if (!keep) throw sys_error("cannot duplicate a stolen fd");
  known_.insert(at, {std::move(keep), entry.id()});
  entries_.push_back(std::move(entry));
  users_.push_back({pid, fd.fd, {}});
  return entries_.back().id();
}

std::vector<img::FdinfoEntry> FileTable::add_process(pid_t pid, std::vector<OpenFd>& fds) {
  std::vector<img::FdinfoEntry> result;
  for (const OpenFd& fd : fds) {
    img::FdinfoEntry e;
    e.set_fd(uint32_t(fd.fd));
    try {
      e.set_id(id_of(fd, pid));
      users_[e.id() - 1].pids.insert(pid);
    } catch (const Error& err) {
      throw Error(format("cannot dump fd %d of pid %d: %s", fd.fd, pid, err.what()));
    }
    e.set_cloexec(fd.info.flags & O_CLOEXEC);
    result.push_back(std::move(e));
  }
  return result;
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
    if (!e.has_reg() || !e.reg().proc_in_tree() || u.pids.size() < 2) continue;
    pid_t q = pid_t(e.reg().proc_pid());
    for (pid_t user : u.pids)
      if (!is_self_or_ancestor(q, user))
        throw Error(format("cannot dump fd %d of pid %d: its description of %s is shared with other processes "
                           "of the tree, and pid %d, which it names, is neither pid %d nor an ancestor of it (a "
                           "shared description is opened before its users are forked); not supported yet",
                           u.first_fd, u.first_pid, e.reg().identity().path().c_str(), q, user));
  }
}

}  // namespace ckpt::files
