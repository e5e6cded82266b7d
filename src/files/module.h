// The interface every file kind implements, and the table of them.
#pragma once

#include <string>
#include <vector>

#include "ckpt/unique_fd.h"
#include "files.pb.h"
#include "files/files.h"
#include "files/open_fd.h"

namespace ckpt::files {

// The fd a restored file is for: some kinds depend on it (a terminal takes
// the caller's fd of the same number).  Both are -1 when a description is
// opened for a whole tree (open_files()), never for an open_per_fd kind.
struct RestoreTarget {
  int pid;
  int fd;
  const RestoreFdOptions& opts;
};

struct FileModule {
  img::FileKind kind;
  const char* name;  // "regular file", for logs
  // Restore opens one description per fd rather than per file entry (a
  // terminal stands in with the caller's fd of the same number).
  bool open_per_fd;
  // Dump: whether this module handles the fd (the first claimant wins).
  bool (*claims)(const OpenFd& fd);
  // Dump: fills `entry` (its id and kind are set); throws Error with the
  // reason alone ("it is a terminal (use --shell-job)") to refuse.
  void (*dump)(const OpenFd& fd, const DumpFdOptions& opts, img::FileEntry& entry);
  // Restore, before anything is created: throws Error with the reason if the
  // file cannot be opened as it was.
  void (*check)(const img::FileEntry& entry);
  // Restore: opens the file description anew, at any fd number, positioned
  // as it was.  Throws Error with the reason.
  UniqueFd (*open)(const img::FileEntry& entry, const RestoreTarget& target);
  // One line for logs: "/tmp/x (flags 02, pos 12)".
  std::string (*describe)(const img::FileEntry& entry);
};

// Every module; the order is the order of claims (a terminal is a character
// device too, so the terminal module comes before the device one).
const std::vector<const FileModule*>& modules();
// The module of a kind; throws for a kind no module knows (newer image).
const FileModule& module_of(img::FileKind kind);

extern const FileModule kRegularFileModule;
extern const FileModule kDirectoryModule;
extern const FileModule kTtyStdioModule;
extern const FileModule kChrdevModule;
extern const FileModule kMemfdModule;
extern const FileModule kGhostFileModule;

}  // namespace ckpt::files
