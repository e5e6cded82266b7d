// pidfd: the process it refers to (fdinfo Pid:) and its flags
// (PIDFD_NONBLOCK is O_NONBLOCK, PIDFD_THREAD is O_EXCL).
//
//   a process of the tree       restored with its pid: pidfd_open() once
//                               that process exists (like an fd on its
//                               /proc entry, proc_entry.h: opened after the
//                               tree is made unless it is the opener or an
//                               ancestor; one shared by processes it cannot
//                               be handed down to is refused at dump)
//   a thread of the tree other  refused (threads are made by the restorer
//   than a main thread          blob, after every fd is in place)
//   outside the tree            reopened with pidfd_open() if the pid is
//                               still the same process (same start time),
//                               else the restore is refused naming it
//   a process that has ended    refused (fdinfo Pid: -1)
//   and been reaped
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/anon_fdinfo.h"
#include "files/module.h"
#include "files/proc_entry.h"

namespace ckpt::files {

namespace {

// The flags pidfd_open() takes, as the description's own.
constexpr uint32_t kPidfdFlags = O_NONBLOCK | O_EXCL;

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[pidfd]" || fd.link.starts_with("pidfd:"); }

// The pid it refers to, as ckpt's /proc numbers it; throws the refusal.
pid_t target_pid(const OpenFd& fd, const DumpFdOptions& opts) {
  const std::string& text = fdinfo_value(fd.info, "Pid");
  if (text == "-1") throw Error("it is a pidfd of a process that has ended and been reaped; not supported yet");
  pid_t pid = pid_t(fdinfo_number(text, 10, "Pid"));
  if (pid == 0)
    throw Error("it is a pidfd of a process outside ckpt's pid namespace; not supported yet");
  if (opts.tree && opts.tree->threads.count(pid))
    throw Error(format("it is a pidfd of thread %d of the tree, which is not a main thread; not supported yet", pid));
  return pid;
}

std::string blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  try {
    target_pid(fd, opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  pid_t pid = target_pid(fd, ctx.opts);
  img::PidfdEntry* e = entry.mutable_pidfd();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  e->set_pid(uint32_t(pid));
  if (ctx.opts.tree && ctx.opts.tree->processes.count(pid)) {
    e->set_in_tree(true);
    return;
  }
  std::optional<uint64_t> start = process_start_time(pid);
  if (!start) throw Error(format("it is a pidfd of pid %d, outside the tree, which is gone", pid));
  e->set_start_time(*start);
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_pidfd()) throw Error("its file entry has no pidfd");
  const img::PidfdEntry& e = entry.pidfd();
  if (e.pid() == 0 || e.pid() > uint32_t(INT32_MAX)) throw Error(format("its pidfd names pid %u", e.pid()));
  if (e.in_tree()) return;
  pid_t pid = pid_t(e.pid());
  std::optional<uint64_t> start = process_start_time(pid);
  if (!start)
    throw Error(format("it was a pidfd of pid %d, outside the dumped tree, and pid %d is gone", pid, pid));
  if (*start != e.start_time())
    throw Error(format("it was a pidfd of pid %d, outside the dumped tree, and pid %d is now another process "
                       "(started at tick %llu, not %llu)",
                       pid, pid, (unsigned long long)*start, (unsigned long long)e.start_time()));
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::PidfdEntry& e = entry.pidfd();
  // pidfd_open() sets O_CLOEXEC itself.
  UniqueFd fd(int(syscall(SYS_pidfd_open, pid_t(e.pid()), e.flags() & kPidfdFlags)));
  if (!fd) throw sys_error(format("pidfd_open of pid %u", e.pid()));
  // Opened by pid: checked again, in case it changed in between.
  check(entry, target.opts);
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_pidfd()) return "?";
  const img::PidfdEntry& e = entry.pidfd();
  return format("pidfd of pid %u%s (flags 0%o)", e.pid(), e.in_tree() ? " of the tree" : "", e.flags());
}

}  // namespace

const FileModule kPidfdModule = {
    .kind = img::FILE_PIDFD,
    .name = "pidfd",
    .open_per_fd = false,
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
