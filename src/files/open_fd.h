// One fd of a frozen process as the dump sees it: a duplicate of its open
// file description in our own process plus what /proc says about it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "ckpt/unique_fd.h"
#include "proc/fdinfo.h"

namespace ckpt::files {

struct OpenFd {
  pid_t pid = 0;
  int fd = -1;                    // its number in the process
  UniqueFd file;                  // our duplicate of the description
  std::string link;               // readlink /proc/PID/fd/FD: a path or "pipe:[123]"
  proc::Fdinfo info;              // /proc/PID/fdinfo/FD
  struct stat st {};              // fstat(file)
};

// Reads the link and fdinfo of fd `fd` of `pid` from /proc and stats `file`,
// which must be a duplicate of that fd (stolen from the process, or a dup()
// when pid is ourselves).
OpenFd describe_fd(pid_t pid, int fd, UniqueFd file);

// The same from /proc alone, without a duplicate (`file` stays empty; `st`
// is stat() of /proc/PID/fd/FD): for the pre-flight, before the tree is
// touched.  Throws Error if the fd is gone.
OpenFd describe_fd_from_proc(pid_t pid, int fd);

// What kind of object an fd no module handles is, for the refusal message:
// "pipe", "socket", "eventfd", "io_uring", "block device 8:1" ...
std::string kind_name(const OpenFd& fd);

// "deleted" when the link ends with " (deleted)" (the file was unlinked).
bool is_deleted(const OpenFd& fd);

}  // namespace ckpt::files
