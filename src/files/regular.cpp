// Regular files and directories, reopened by path at restore (those under
// /proc/PID: see proc_entry.h).
#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/identity.h"
#include "files/module.h"
#include "files/proc_entry.h"

namespace ckpt::files {

namespace {

// Flags that acted at open time only; reopening with them would create or
// truncate the file.
constexpr uint32_t kOpenTimeFlags = O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY;

void dump_by_path(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  const DumpFdOptions& opts = ctx.opts;
  if (fd.link.starts_with("/memfd:")) throw Error("memfd is not supported yet");
  if (is_deleted(fd))
    throw Error(fd.link.substr(0, fd.link.size() - 10) + " was deleted; deleted files are not supported yet");
  if (fd.link.empty() || fd.link[0] != '/') throw Error("its file has no path (" + fd.link + ")");
  // The path must lead back to this very file, or restore would open
  // another one (a file over-mounted, or in another mount namespace).
  struct stat by_path;
  if (stat(fd.link.c_str(), &by_path) < 0) throw sys_error("cannot stat its path " + fd.link);
  if (by_path.st_dev != fd.st.st_dev || by_path.st_ino != fd.st.st_ino)
    throw Error("its path " + fd.link + " now names another file");
  img::RegFileEntry* reg = entry.mutable_reg();
  *reg->mutable_identity() = make_identity(fd.link, fd.st);
  reg->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  reg->set_pos(fd.info.pos);
  reg->set_mode(fd.st.st_mode);
  dump_proc_entry(fd, opts, *reg);
}

void check_by_path(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_reg()) throw Error("its file entry has no path");
  // A /proc/PID entry of the tree appears with its process; its inode is new.
  if (entry.reg().has_proc_pid()) return check_proc_entry(entry.reg());
  stat_same_file(entry.reg().identity(), opts.root);
}

UniqueFd open_by_path(const img::FileEntry& entry, const RestoreTarget& target) {
  if (!entry.has_reg()) throw Error("its file entry has no path");
  const img::RegFileEntry& reg = entry.reg();
  // /proc/PID entries are the host's /proc (the same pids); the rest under --root.
  const std::string path =
      reg.has_proc_pid() ? reg.identity().path() : target.opts.root.host(reg.identity().path());
  int flags = int((reg.flags() & ~kOpenTimeFlags) | O_CLOEXEC);
  if (entry.kind() == img::FILE_DIRECTORY) flags |= O_DIRECTORY;
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) throw sys_error("cannot open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) < 0) throw sys_error("cannot stat " + path);
  if (reg.has_proc_pid()) {
    check_proc_entry(reg);  // still the same process, now that it is open
  } else {
    std::string why = identity_mismatch(reg.identity(), st);
    if (!why.empty()) throw Error(path + ": " + why);
  }
  if (S_ISREG(st.st_mode) && uint64_t(st.st_size) != reg.identity().size()) {
    std::string who = target.fd >= 0 ? format("fd %d of pid %d: ", target.fd, target.pid) : "";
    LOG_WARN("%s%s changed size from %llu to %llu bytes since the dump", who.c_str(), path.c_str(),
             (unsigned long long)reg.identity().size(), (unsigned long long)st.st_size);
  }
  // An O_PATH fd has no position.
  if (!(flags & O_PATH) && lseek(fd.get(), off_t(reg.pos()), SEEK_SET) < 0)
    throw sys_error(format("cannot seek %s to %llu", path.c_str(), (unsigned long long)reg.pos()));
  return fd;
}

std::string describe_by_path(const img::FileEntry& entry) {
  if (!entry.has_reg()) return "?";
  return format("%s (flags 0%o, pos %llu)", entry.reg().identity().path().c_str(), entry.reg().flags(),
                (unsigned long long)entry.reg().pos());
}

}  // namespace

bool is_regular(const OpenFd& fd) { return S_ISREG(fd.st.st_mode); }
bool is_directory(const OpenFd& fd) { return S_ISDIR(fd.st.st_mode); }

const FileModule kRegularFileModule = {
    .kind = img::FILE_REGULAR,
    .name = "regular file",
    .open_per_fd = false,
    .claims = is_regular,
    .blocker = nullptr,
    .dump = dump_by_path,
    .finish = nullptr,
    .check = check_by_path,
    .open = open_single<open_by_path>,
    .installed = nullptr,
    .describe = describe_by_path,
};

const FileModule kDirectoryModule = {
    .kind = img::FILE_DIRECTORY,
    .name = "directory",
    .open_per_fd = false,
    .claims = is_directory,
    .blocker = nullptr,
    .dump = dump_by_path,
    .finish = nullptr,
    .check = check_by_path,
    .open = open_single<open_by_path>,
    .installed = nullptr,
    .describe = describe_by_path,
};

}  // namespace ckpt::files
