// Open files: what the fds of a process point at, dumped into files.img (one
// FileEntry per open file description of the tree) and fdinfo-PID.img (one
// FdinfoEntry per fd), and opened again at restore.
//
// Each kind of file is one module (regular.cpp, chrdev.cpp, tty.cpp, ...)
// with its dump and restore side together, registered in modules.cpp.
#pragma once

#include <sys/types.h>

#include <vector>

#include "files.pb.h"
#include "files/open_fd.h"
#include "image/image.h"

namespace ckpt::files {

// ---- dump side ------------------------------------------------------------

struct DumpFdOptions {
  bool shell_job = false;         // a terminal fd becomes FILE_TTY_STDIO
};

// Every open file description of the tree, each once.  Fds that share a
// description (dup, fork) get one FileEntry, found with kcmp(KCMP_FILE)
// (which also orders descriptions, so finding one is a binary search), so
// that the restored fds share their offset and flags again.
class FileTable {
 public:
  explicit FileTable(const DumpFdOptions& opts) : opts_(opts) {}
  FileTable(const FileTable&) = delete;
  FileTable& operator=(const FileTable&) = delete;

  // Adds the fds of one process and returns its fdinfo entries, in fd order.
  // Throws "cannot dump fd 5 of pid 1234: pipe is not supported yet" for a
  // kind no module handles.
  std::vector<img::FdinfoEntry> add_process(pid_t pid, std::vector<OpenFd>& fds);

  const std::vector<img::FileEntry>& entries() const { return entries_; }

 private:
  // One known description: a duplicate we keep open to kcmp new fds with.
  struct Known {
    UniqueFd file;
    uint32_t id;
  };
  uint32_t id_of(const OpenFd& fd, pid_t pid);

  DumpFdOptions opts_;
  // In kcmp order of their descriptions, for a binary search.
  std::vector<Known> known_;
  std::vector<img::FileEntry> entries_;
};

// ---- restore side ---------------------------------------------------------

struct RestoreFdOptions {
  // Terminal fds (FILE_TTY_STDIO) are allowed and take the caller's own
  // fd 0/1/2; without it they are refused.
  bool shell_job = false;
};

// Opens every fd of `pid` listed in fdinfo-<pid>.img in the CURRENT process
// at its original number (dup3, with its O_CLOEXEC), from files.img.  Shared
// file descriptions are opened once and dup'd.  Tty stdio entries take a dup
// of the fd the caller has at the same number (fd 0 for a terminal fd above
// 2).  Regular files are reopened by path with their flags (minus O_CREAT,
// O_TRUNC, O_EXCL), must be the same file (device and inode; a size change
// is only warned about: logs grow), and are lseek'd to their position.
//
// Any fd the caller has at a restored number is replaced: fds the caller
// still needs (images directory, log, pipes to its parent) must sit above
// max_fd() first.  Fds not in the image are left alone.
// Throws ckpt::Error "cannot restore fd N of pid P: REASON".
void restore_fds(const image::ImageDir& dir, int pid, const RestoreFdOptions& opts);

// Validation before anything is created: every file of `pid` still exists
// with the same identity.  Throws like restore_fds.
void check_files(const image::ImageDir& dir, int pid);

// The highest fd number restore_fds() will create for `pid`, -1 if none.
int max_fd(const image::ImageDir& dir, int pid);

}  // namespace ckpt::files
