// signalfd: the set of signals it reads (fdinfo sigmask).  The signals
// themselves are the process's (pending signals are task state, restored
// with it), so a new signalfd with the same mask reads them again.
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/anon_fdinfo.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[signalfd]"; }

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  img::SignalfdEntry* e = entry.mutable_signalfd();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  // The kernel's sigset, signal 64 first: the 64-bit word itself.
  e->set_mask(fdinfo_number(fdinfo_value(fd.info, "sigmask"), 16, "sigmask"));
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_signalfd()) throw Error("its file entry has no signalfd");
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::SignalfdEntry& e = entry.signalfd();
  uint64_t mask = e.mask();
  int flags = SFD_CLOEXEC | (e.flags() & O_NONBLOCK ? SFD_NONBLOCK : 0);
  // The raw call: the kernel's sigset is 8 bytes, glibc's sigset_t is not.
  UniqueFd fd(int(syscall(SYS_signalfd4, -1, &mask, sizeof(mask), flags)));
  if (!fd) throw sys_error(format("signalfd of mask %016llx", (unsigned long long)mask));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_signalfd()) return "?";
  return format("signalfd mask %016llx (flags 0%o)", (unsigned long long)entry.signalfd().mask(),
                entry.signalfd().flags());
}

}  // namespace

const FileModule kSignalfdModule = {
    .kind = img::FILE_SIGNALFD,
    .name = "signalfd",
    .open_per_fd = false,
    .claims = claims,
    .blocker = nullptr,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
