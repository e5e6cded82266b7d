// Open files: what the fds of a process point at, dumped into files.img (one
// FileEntry per open file description of the tree) and fdinfo-PID.img (one
// FdinfoEntry per fd), and opened again at restore.
//
// Each kind of file is one module (regular.cpp, chrdev.cpp, tty.cpp, ...)
// with its dump and restore side together, registered in modules.cpp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "files.pb.h"
#include "files/fs_root.h"
#include "files/open_fd.h"
#include "image/image.h"
#include "report/blocker.h"

namespace ckpt::files {

// ---- dump side ------------------------------------------------------------

class DumpObjects;
struct RestoreObjects;
struct DumpFdContext;
struct FileModule;
class TcpRepairs;
namespace diag {
class InetIndex;
}

}  // namespace ckpt::files
namespace compel {
class Infection;
}
namespace ckpt::files {

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
  bool file_locks = false;        // --file-locks: locks are dumped, not refused
  bool ext_unix_sk = false;       // --ext-unix-sk: unix peers outside the tree allowed
  bool tcp_established = false;   // --tcp-established
  bool tcp_close = false;         // --tcp-close: connections saved without their state (come back closed)
  bool skip_in_flight = false;    // --skip-in-flight: connections not accepted yet are dropped
  // Holds the tree's connections in repair mode once saved (tcp_connection.h).
  TcpRepairs* tcp_repairs = nullptr;
  // The pre-flight's listing of TCP sockets; without it each socket is
  // looked up in the kernel's.
  const diag::InetIndex* tcp_sockets = nullptr;
  // --external RES: fds whose /proc link is RES ("pipe:[1234]") are saved
  // as external (FILE_EXTERNAL), handed in at restore with --inherit-fd.
  std::set<std::string> externals;
  // Where memfds and deleted files are recorded; without it they are refused.
  DumpObjects* objects = nullptr;
  // Without it, /proc/PID entries are all taken as of processes outside
  // the tree.
  const TreeTasks* tree = nullptr;
};

// One reason the tree cannot be dumped ("fd 5 of pid 1234: io_uring is not
// supported") or restored: report/blocker.h.
using report::Blocker;

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

  // Pre-flight, before the tree is touched: every fd of `fds` of `pid` (seen
  // in /proc as `proc_id`) that no module handles, or that its module
  // refuses with these options, is added to `out`.
  void preflight(pid_t pid, pid_t proc_id, const std::vector<int>& fds, std::vector<Blocker>& out) const;

  // Adds the fds of one process and returns its fdinfo entries, in fd order.
  // Each fd's duplicate (`file`) is closed once it is dumped.
  // Throws "cannot dump fd 5 of pid 1234: pipe is not supported yet" for a
  // kind no module handles.  `infection` is the process's parasite (null in
  // tests).
  std::vector<img::FdinfoEntry> add_process(pid_t pid, pid_t proc_id, std::vector<OpenFd>& fds,
                                            ::compel::Infection* infection = nullptr);

  // After the last process: each module's finish(), then the checks of the
  // whole tree.  `parent_of` maps each pid of the tree to its parent.
  void finish(const std::map<pid_t, pid_t>& parent_of);

  const std::vector<img::FileEntry>& entries() const { return entries_; }

  // ---- for the modules ----
  // The id of the description `fd` (of our own process) is, adding it as
  // a file of the tree if it is new (an fd in flight, say): `ctx` is the
  // process it was found in.
  uint32_t add_description(const OpenFd& fd, DumpFdContext& ctx);
  // The id of a known description for which `compare(our_fd)` is 0, where
  // `compare` orders it among our duplicates as kcmp does (KCMP_FILE,
  // KCMP_EPOLL_TFD); 0 if none is known.
  uint32_t find(const std::function<int(int our_fd)>& compare) const;
  // Our duplicate of the description of file `id`.
  int description(uint32_t id) const;
  img::FileEntry& entry(uint32_t id) { return entries_.at(id - 1); }
  // Every process whose fds use file `id` (not those that only need it).
  const std::set<pid_t>& users(uint32_t id) const { return users_.at(id - 1).pids; }
  // The first fd found on file `id`, for messages: "fd 5 of pid 1234".
  std::string first_user(uint32_t id) const;
  const DumpFdOptions& options() const { return opts_; }

 private:
  // One known description: a duplicate we keep open to kcmp new fds with.
  struct Known {
    UniqueFd file;
    uint32_t id;
  };
  uint32_t id_of(const OpenFd& fd, DumpFdContext& ctx);
  void add_locks(const OpenFd& fd, pid_t pid, img::FileEntry& entry);  // --file-locks
  void check_proc_sharing(const std::map<pid_t, pid_t>& parent_of) const;

  DumpFdOptions opts_;
  // In kcmp order of their descriptions, for a binary search.
  std::vector<Known> known_;
  std::vector<int> by_id_;        // index id - 1: our duplicate
  std::vector<img::FileEntry> entries_;
  // Per entry (index id - 1): the first fd that uses it, and every process.
  struct Users {
    pid_t first_pid;
    int first_fd;
    std::set<pid_t> pids;
  };
  std::vector<Users> users_;
};

// The module that takes `fd`: an external one if the user named it, else
// the first that claims it; nullptr if none.
const FileModule* module_for(const OpenFd& fd, const DumpFdOptions& opts);

// ---- restore side ---------------------------------------------------------

struct RestoreFdOptions {
  // Terminal fds (FILE_TTY_STDIO) are allowed and take the caller's own
  // fd 0/1/2; without it they are refused.
  bool shell_job = false;
  bool file_locks = false;        // --file-locks: locks in the images are taken again
  bool ext_unix_sk = false;       // --ext-unix-sk
  bool tcp_established = false;   // --tcp-established: connections in the images may be restored
  bool tcp_close = false;         // --tcp-close: they come back closed
  // --inherit-fd fd[N]:RES: the fd of ckpt that stands in for the external
  // file RES (ExternalEntry.key) of the images.
  std::map<std::string, int> inherited;
  // The memfds and deleted files restored in ckpt before the tasks (their
  // fds are inherited); without it such fds cannot be restored.
  const RestoreObjects* objects = nullptr;
  // --root PATH: where the images' paths are looked up (fs_root.h).
  FsRoot root;
};

// files.img and every process's fdinfo-PID.img, read once and checked:
// every fd listed once, every file id known, groups and needs consistent.
struct FilesImage {
  std::map<uint32_t, img::FileEntry> files;                 // by id
  std::map<int, std::vector<img::FdinfoEntry>> fds;         // by pid, in fd order

  // Reads fdinfo-PID.img of each of `pids`, and files.img if any has an fd.
  // Throws CorruptedImage naming the image.
  static FilesImage read(const image::ImageDir& dir, const std::vector<int>& pids);
  const img::FileEntry& file(uint32_t id) const;            // throws for an unknown id
  const std::vector<img::FdinfoEntry>& fds_of(int pid) const;  // empty if none
  // The files opened together with `id` (its group), in id order.
  std::vector<uint32_t> group_of(uint32_t id) const;
  // The group id of file `id` (its own id if it has none).
  uint32_t group_id(uint32_t id) const;
  // Checks the groups and needs and builds the group index (read() does).
  void index(const std::string& origin);

 private:
  std::map<uint32_t, std::vector<uint32_t>> groups_;        // group id -> members
};

// A process tree shares open file descriptions (a shell loop and its child
// write one log through one offset).  Restore opens each description once,
// in the ancestor that first needs it, and lets fork hand it down:
//
//   in each process, before forking its children:
//     ids = file_ids_of(pid) and of every descendant, minus what it inherited
//     opened = open_files(image, ids, opts, room)    // at fds >= room.floor,
//                                                    // or at their own numbers
//   fork the children (they inherit `opened`)
//   install_fds(image, pid, every id -> fd it holds, opts)
//   close the opened fds and whatever else is not the process's own
//
// open_files() opens whole groups (both ends of a pipe) and the files a
// file needs before it.  restore_fds() is that sequence for one process
// alone.  Terminals (FILE_TTY_STDIO, --shell-job) are not shared this way:
// each terminal fd is a dup of the installing process's own fd of the same
// number (fd 0 for a terminal fd above 2), i.e. of the restoring ckpt's
// stdio as long as every ancestor forks before installing its own fds.

// The ids of the descriptions the fds of `pid` use, as open_files() takes
// them: every id of its fdinfo except terminals.
std::set<uint32_t> file_ids_of(const FilesImage& image, int pid);

// Every id `ids` brings along: their groups and what they need, and so on.
std::set<uint32_t> with_groups_and_needs(const FilesImage& image, const std::set<uint32_t>& ids);

// Where open_files() puts what it opens: in [floor, ceiling), above every
// fd number the process will have, or, for an id of `at`, at that number
// when it is free.  `at` is for descriptions only the opening process
// uses: placed at one of their own numbers they need no second fd, which
// halves the fd numbers a process of many fds needs while it is restored.
struct FdRoom {
  FdRoom(int floor = 0) : floor(floor) {}  // NOLINT: a plain floor is the common case
  int floor;
  int ceiling = std::numeric_limits<int>::max();
  const std::map<uint32_t, int>* at = nullptr;
};

// Opens each description of `ids` once (whole groups; needed files first,
// from `already` if it is there), in the CURRENT process, where `room`
// says, with FD_CLOEXEC set (fork keeps it, an exec would not);
// positioned and flagged as dumped.  Returns id -> fd of what it opened.
// Throws Error "cannot restore file 3 (regular file): REASON"; a terminal
// id is refused (install_fds() makes terminal fds).
std::map<uint32_t, UniqueFd> open_files(const FilesImage& image, const std::set<uint32_t>& ids,
                                        const RestoreFdOptions& opts, const FdRoom& room,
                                        const std::map<uint32_t, int>& already = {});

// Places every fd of `pid` at its number in the CURRENT process: dup3 of
// opened.at(its id) with the fd's own O_CLOEXEC; a terminal fd from the
// caller's fd of the same number (see above).  Then each module's
// installed() step.  Any fd the caller has at a restored number is
// replaced; `opened` fds may sit anywhere, even at a target number (they
// are moved out of the way first, unless it is a number of their own).  Fds not in the image are left alone,
// the `opened` ones included.  Throws Error "cannot restore fd N of pid P:
// REASON" (an id missing from `opened` is one: "its file 4 was not opened").
void install_fds(const FilesImage& image, int pid, const std::map<uint32_t, int>& opened,
                 const RestoreFdOptions& opts);

// open_files() of every file of `pid` and install_fds(), for one process
// alone.  Fds the caller still needs (images directory, log, pipes to its
// parent) must sit above max_fd() first.
// Throws ckpt::Error "cannot restore fd N of pid P: REASON".
void restore_fds(const FilesImage& image, int pid, const RestoreFdOptions& opts);

// Validation before anything is created: every file of `pid` can be opened
// as it was (still exists with the same identity...).  With `out`, each fd
// whose files cannot be opened is one blocker there; without it the first
// throws like restore_fds.
void check_files(const FilesImage& image, int pid, const RestoreFdOptions& opts,
                 std::vector<Blocker>* out = nullptr);

// The highest fd number restore_fds() or install_fds() will create for
// `pid`, -1 if none.
int max_fd(const FilesImage& image, int pid);

}  // namespace ckpt::files
