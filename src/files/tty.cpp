// A terminal among the fds of a shell job (--shell-job): it is not recreated;
// the restored process gets the restoring ckpt's own stdio in its place, as a
// job started from that shell would.
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

// The pty multiplexer /dev/ptmx (5:2): a master end is the state of a
// terminal emulator, not a job's stdio.
bool is_pty_master(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2;
}

// Without a duplicate (pre-flight), by the device numbers of terminals:
// the virtual consoles and serial ports (4), /dev/tty and the console (5),
// the pty slaves (136-143).
bool is_terminal_device(const struct stat& st) {
  unsigned maj = major(st.st_rdev);
  return maj == 4 || (maj == 5 && minor(st.st_rdev) <= 1) || (maj >= 136 && maj <= 143);
}

bool claims(const OpenFd& fd) {
  if (!S_ISCHR(fd.st.st_mode) || is_pty_master(fd.st)) return false;
  return fd.file ? isatty(fd.file.get()) : is_terminal_device(fd.st);
}

std::string blocker(const OpenFd&, const DumpFdOptions& opts) {
  return opts.shell_job ? "" : "it is a terminal (use --shell-job)";
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  if (std::string why = blocker(fd, ctx.opts); !why.empty()) throw Error(why);
  img::TtyStdioEntry* tty = entry.mutable_tty();
  tty->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  tty->set_path(fd.link);
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_tty()) throw Error("its file entry has no terminal");
}

// The caller's fd of the same number stands in; fd 0 for a terminal fd
// above 2.
UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  if (!target.opts.shell_job) throw Error("it was a terminal (" + entry.tty().path() + "); restore with --shell-job");
  int source = target.fd <= 2 ? target.fd : 0;
  UniqueFd fd(fcntl(source, F_DUPFD_CLOEXEC, 0));
  if (!fd) throw sys_error(format("it was a terminal, and ckpt's own fd %d cannot stand in", source));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_tty()) return "?";
  return format("terminal %s (flags 0%o), replaced by ckpt's stdio", entry.tty().path().c_str(), entry.tty().flags());
}

}  // namespace

const FileModule kTtyStdioModule = {
    .kind = img::FILE_TTY_STDIO,
    .name = "terminal",
    .open_per_fd = true,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
