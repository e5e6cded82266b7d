// The interface every file kind implements, and the table of them.
//
// A kind is one file (pipe.cpp, unix_socket.cpp, eventfd.cpp ...) that
// defines one FileModule and one line in modules.cpp.  A module meets the
// tree at these points, in this order:
//
//   dump, before the tree is touched (FileTable::preflight):
//     claims(fd)             whose fd is it (from /proc: link, fdinfo, stat)
//     blocker(fd, tree)      why it cannot be dumped as asked, for the list
//                            of every blocker of the tree; "" if none
//   dump, process by process, with the parasite in (FileTable::add_process):
//     dump(fd, ctx, entry)   fills its FileEntry from our duplicate of the
//                            description (ctx.table for other descriptions:
//                            fds in flight, epoll targets)
//   dump, with every process of the tree seen (FileTable::finish):
//     finish(ctx)            tree-wide work: pair ends into groups, name
//                            peers, set `needs`; may refuse
//   restore, before anything is created:
//     check(entry, opts)     whether it can be opened as it was
//   restore, in the process that owns it (the lowest common ancestor of
//   every process that holds or needs it), before its children exist:
//     open(request)          makes the files of one group (one file, or
//                            both ends of a pipe) at any fd numbers, with
//                            every file of `needs` already open
//   restore, once the process's fds are at their numbers:
//     installed(entry, fd)   per-process state: POSIX locks, the
//                            controlling terminal
//
// Groups and needs are plain FileEntry fields (files.proto), so restore
// plans who opens what without asking the modules.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "ckpt/unique_fd.h"
#include "files.pb.h"
#include "files/files.h"
#include "files/open_fd.h"

namespace compel {
class Infection;
}

namespace ckpt::files {

// ---- dump -------------------------------------------------------------------

// What dump() may use besides the fd: the options, the process, its
// parasite, and the table of every description of the tree.
struct DumpFdContext {
  const DumpFdOptions& opts;
  FileTable& table;
  pid_t pid;                          // as in the images
  pid_t proc_id;                      // where /proc shows it (see dump::ProcessSnapshot)
  ::compel::Infection* infection;       // null when the fd is not a frozen process's (tests)
};

// What finish() may use: every entry and our duplicate of each description.
struct DumpTreeContext {
  const DumpFdOptions& opts;
  FileTable& table;
};

// ---- restore ----------------------------------------------------------------

// The fd a restored file is for: some kinds depend on it (a terminal takes
// the caller's fd of the same number).  Both are -1 when a description is
// opened for a whole tree (open_files()), never for an open_per_fd kind.
struct RestoreTarget {
  int pid;
  int fd;
  const RestoreFdOptions& opts;
};

// One call of open(): the files of one group, and what the process has
// open already (every file of their `needs` among it), id -> fd.
struct OpenRequest {
  std::vector<const img::FileEntry*> group;   // in id order; one file for most kinds
  const std::map<uint32_t, int>& opened;
  RestoreTarget target;
  // The fd of file `id` of `opened`; throws if it is not open (a broken
  // `needs` list).
  int fd_of(uint32_t id) const;
};

struct FileModule {
  img::FileKind kind;
  const char* name;  // "regular file", for logs
  // Restore opens one description per fd rather than per file entry (a
  // terminal stands in with the caller's fd of the same number).
  bool open_per_fd;
  // Dump: whether this module handles the fd (the first claimant wins).
  // Sees link, fdinfo and stat only: `fd.file` may be empty (pre-flight).
  bool (*claims)(const OpenFd& fd);
  // Dump, pre-flight: the reason this fd cannot be dumped with these
  // options ("it is a terminal (use --shell-job)"), or "".  nullptr: never.
  std::string (*blocker)(const OpenFd& fd, const DumpFdOptions& opts);
  // Dump: fills `entry` (its id and kind are set); throws Error with the
  // reason alone to refuse.
  void (*dump)(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry);
  // Dump, after the last process; nullptr: nothing to do.  Called once per
  // module whatever the number of its files.
  void (*finish)(DumpTreeContext& ctx);
  // Restore, before anything is created: throws Error with the reason if the
  // file cannot be opened as it was.
  void (*check)(const img::FileEntry& entry, const RestoreFdOptions& opts);
  // Restore: opens the group's files anew, at any fd numbers, positioned as
  // they were; one fd per file of `req.group`, in its order.  Throws Error
  // with the reason.
  std::vector<UniqueFd> (*open)(const OpenRequest& req);
  // Restore, once every fd of `target.pid` is at its number: `fd` is one of
  // them on this file.  nullptr: nothing to do.
  void (*installed)(const img::FileEntry& entry, int fd, const RestoreTarget& target);
  // One line for logs: "/tmp/x (flags 02, pos 12)".
  std::string (*describe)(const img::FileEntry& entry);
};

// For a kind whose files are one description each: open() of one file.
template <UniqueFd (*OpenOne)(const img::FileEntry&, const RestoreTarget&)>
std::vector<UniqueFd> open_single(const OpenRequest& req) {
  std::vector<UniqueFd> out;
  for (const img::FileEntry* e : req.group) out.push_back(OpenOne(*e, req.target));
  return out;
}

// Every module; the order is the order of claims (a terminal is a character
// device too, so the terminal module comes before the device one).
const std::vector<const FileModule*>& modules();
// The module of a kind; throws for a kind no module knows (newer image).
const FileModule& module_of(img::FileKind kind);
// The first module that claims `fd`, or nullptr.
const FileModule* claimant(const OpenFd& fd);

extern const FileModule kRegularFileModule;
extern const FileModule kDirectoryModule;
extern const FileModule kTtyStdioModule;
extern const FileModule kChrdevModule;
extern const FileModule kMemfdModule;
extern const FileModule kGhostFileModule;
extern const FileModule kExternalModule;
extern const FileModule kPipeModule;
extern const FileModule kFifoModule;
extern const FileModule kPtyModule;
extern const FileModule kInetSocketModule;
extern const FileModule kNetlinkSocketModule;
extern const FileModule kUnixSocketModule;
extern const FileModule kEventfdModule;
extern const FileModule kSignalfdModule;
extern const FileModule kTimerfdModule;
extern const FileModule kInotifyModule;
extern const FileModule kFanotifyModule;
extern const FileModule kPidfdModule;
extern const FileModule kEpollModule;

}  // namespace ckpt::files
