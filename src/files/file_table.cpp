// The dump side of files: each fd is handed to the first module that claims
// it; fds sharing one open file description become one FileEntry.
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/files.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

// Whether two fds of our own process refer to the same open file description.
bool same_description(int a, int b) {
  pid_t self = getpid();
  long r = syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);
  if (r < 0) throw sys_error("kcmp(KCMP_FILE) failed; ckpt needs a kernel with CONFIG_KCMP");
  return r == 0;
}

const FileModule* claimant(const OpenFd& fd) {
  for (const FileModule* m : modules())
    if (m->claims(fd)) return m;
  return nullptr;
}

}  // namespace

uint32_t FileTable::id_of(const OpenFd& fd, pid_t pid) {
  for (const Known& k : known_)
    if (k.dev == fd.st.st_dev && k.ino == fd.st.st_ino && same_description(k.file.get(), fd.file.get())) {
      LOG_DEBUG("fd %d of pid %d shares file %u", fd.fd, pid, k.id);
      return k.id;
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
  known_.push_back({std::move(keep), fd.st.st_dev, fd.st.st_ino, entry.id()});
  entries_.push_back(std::move(entry));
  return entries_.back().id();
}

std::vector<img::FdinfoEntry> FileTable::add_process(pid_t pid, std::vector<OpenFd>& fds) {
  std::vector<img::FdinfoEntry> result;
  for (const OpenFd& fd : fds) {
    img::FdinfoEntry e;
    e.set_fd(uint32_t(fd.fd));
    try {
      e.set_id(id_of(fd, pid));
    } catch (const Error& err) {
      throw Error(format("cannot dump fd %d of pid %d: %s", fd.fd, pid, err.what()));
    }
    e.set_cloexec(fd.info.flags & O_CLOEXEC);
    result.push_back(std::move(e));
  }
  return result;
}

}  // namespace ckpt::files
