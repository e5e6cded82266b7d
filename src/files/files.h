// Open files: what the fds of a process point at, dumped into files.img (one
// FileEntry per open file description of the tree) and fdinfo-PID.img (one
// FdinfoEntry per fd), and opened again at restore.
//
// Each kind of file is one module (regular.cpp, chrdev.cpp, tty.cpp, ...)
// with its dump and restore side together, registered in modules.cpp.
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <vector>

#include "files.pb.h"
#include "files/open_fd.h"
#include "image/image.h"

namespace ckpt::files {

// ---- dump side ------------------------------------------------------------

class DumpObjects;
struct RestoreObjects;

// The tasks of the dumped tree, for fds on their /proc entries: those of a
// process are opened again once the restored process exists; those of a
// thread other than a main thread are refused (the restorer blob makes
// threads, after every fd is in place).
struct TreeTasks {
  std::set<pid_t> processes;      // pids, zombies included
  std::set<pid_t> threads;        // tids of the other threads
};

struct DumpFdOptions {
  bool shell_job = false;         // a terminal fd becomes FILE_TTY_STDIO
  // Where memfds and deleted files are recorded; without it they are refused.
  DumpObjects* objects = nullptr;
  // Without it, /proc/PID entries are all taken as of processes outside
  // the tree.
  const TreeTasks* tree = nullptr;
};

// Every open file description of the tree, each once.  Fds that share a
// description (dup, fork) get one FileEntry, found with kcmp(KCMP_FILE)
// (which also orders descriptions, so finding one is a binary search), so
// that the restored fds share their offset and flags again.  One table
// spans the whole tree: it compares the duplicates stolen into ckpt, which
// are the very descriptions of the processes, so an fd of a child matches
// the description its parent's fd has (the same as kcmp(parent, child,
// KCMP_FILE, fd1, fd2)) even after the parent has been cured.
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

  // After the last process: a description on /proc/Q/... of a process Q of
  // the tree that several processes share is opened at restore by their
  // common ancestor before it forks them, so Q must exist by then: Q must be
  // every user or an ancestor of it.  `parent_of` maps each pid of the tree
  // to its parent.  Throws "cannot dump fd 5 of pid 1234: ..." otherwise.
  void check_proc_sharing(const std::map<pid_t, pid_t>& parent_of) const;

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
  // Per entry (index id - 1): the first fd that uses it, and every process.
  struct Users {
    pid_t first_pid;
    int first_fd;
    std::set<pid_t> pids;
  };
  std::vector<Users> users_;
};

// ---- restore side ---------------------------------------------------------

struct RestoreFdOptions {
  // Terminal fds (FILE_TTY_STDIO) are allowed and take the caller's own
  // fd 0/1/2; without it they are refused.
  bool shell_job = false;
  // The memfds and deleted files restored in ckpt before the tasks (their
  // fds are inherited); without it such fds cannot be restored.
  const RestoreObjects* objects = nullptr;
};

// A process tree shares open file descriptions (a shell loop and its child
// write one log through one offset).  Restore opens each description once,
// in the ancestor that first needs it, and lets fork hand it down:
//
//   in each process, before forking its children:
//     ids = file_ids_of(pid) and of every descendant, minus what it inherited
//     opened = open_files(dir, ids, opts, floor)   // at fds >= floor
//   fork the children (they inherit `opened`)
//   install_fds(dir, pid, every id -> fd it holds, opts)
//   close the opened fds and whatever else is not the process's own
//
// restore_fds() is that sequence for one process alone.  Terminals
// (FILE_TTY_STDIO, --shell-job) are not shared this way: each terminal fd is
// a dup of the installing process's own fd of the same number (fd 0 for a
// terminal fd above 2), i.e. of the restoring ckpt's stdio as long as every
// ancestor forks before installing its own fds.

// The ids (FileEntry.id) of the descriptions the fds of `pid` use, as
// open_files() takes them: every id of fdinfo-<pid>.img except terminals.
// Not for a zombie (it has no fdinfo image).
std::set<uint32_t> file_ids_of(const image::ImageDir& dir, int pid);

// Opens each description of `ids` once from files.img, in the CURRENT
// process, at an fd number >= `floor` with FD_CLOEXEC set (fork keeps it,
// an exec would not); positioned and flagged as dumped.  Returns id -> fd.
// Throws Error "cannot restore file 3 (regular file): REASON", or
// CorruptedImage for an id files.img lacks; a terminal id is refused
// (install_fds() makes terminal fds).
std::map<uint32_t, UniqueFd> open_files(const image::ImageDir& dir, const std::set<uint32_t>& ids,
                                        const RestoreFdOptions& opts, int floor);

// Places every fd of `pid` listed in fdinfo-<pid>.img at its number in the
// CURRENT process: dup3 of opened.at(its id) with the fd's own O_CLOEXEC; a
// terminal fd from the caller's fd of the same number (see above).  Any fd
// the caller has at a restored number is replaced; `opened` fds may sit
// anywhere, even at a target number (they are moved out of the way first).
// Fds not in the image are left alone, the `opened` ones included.
// Throws Error "cannot restore fd N of pid P: REASON" (an id missing from
// `opened` is one: "its file 4 was not opened").
void install_fds(const image::ImageDir& dir, int pid, const std::map<uint32_t, int>& opened,
                 const RestoreFdOptions& opts);

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

// The highest fd number restore_fds() or install_fds() will create for
// `pid`, -1 if none.
int max_fd(const image::ImageDir& dir, int pid);

}  // namespace ckpt::files
