// What inotify and fanotify marks are on, found at dump and checked at
// restore.  The kernel shows a marked inode by device, inode number and
// file handle (fdinfo "ino:3ad sdev:fe00000 fhandle-bytes:8 fhandle-type:1
// f_handle:ad03..."): open_by_handle_at() through a mount of that device
// gives the inode, and its /proc/self/fd link a path, kept if the path
// still leads to that very inode.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "ckpt/unique_fd.h"
#include "files/anon_fdinfo.h"

namespace ckpt::files {

// The kernel's internal device number (fdinfo sdev) as st_dev shows it.
dev_t kernel_dev(uint64_t sdev);

struct MarkedInode {
  std::string path;
  struct stat st {};
};

// The inode of a mark line (fields ino, sdev, fhandle-bytes, fhandle-type,
// f_handle).  Throws Error naming `what` ("its inotify watch 3") if it has
// no path that leads to it (deleted, or a filesystem without file handles).
MarkedInode find_marked_inode(const FdinfoFields& mark, const std::string& what);

// Restore: `path` opened with O_PATH, not following a last symlink, and
// checked to be the inode dev/ino of the dump.  Throws Error naming `what`.
UniqueFd open_marked_inode(const std::string& path, uint64_t dev, uint64_t ino, const std::string& what);

// A mount point of the filesystem on `dev` (one that shows its root first);
// throws Error naming `what` if none is mounted.
std::string mount_point_of_dev(dev_t dev, const std::string& what);

// "/proc/self/fd/N": a path that resolves to exactly the file of fd N
// (the inode itself when the fd is an O_PATH symlink), for the calls that
// take a path.
std::string self_fd_path(int fd);

}  // namespace ckpt::files
