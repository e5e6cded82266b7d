// /proc/PID/mountinfo: every mount, for the kinds that name mounts or
// filesystems (fanotify marks, file handles of inotify watches).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

struct Mount {
  int id = 0;
  int parent = 0;
  dev_t dev = 0;              // st_dev of the files on it (makedev of MAJ:MIN)
  std::string root;           // the directory of the filesystem mounted there
  std::string mount_point;
  std::string fstype;
};

// In the text's order; octal escapes in paths decoded.  Throws on a line
// without its fields.
std::vector<Mount> parse_mountinfo(std::string_view text, const std::string& origin = "mountinfo");

// Our own mounts (/proc/self/mountinfo).
std::vector<Mount> own_mounts();

}  // namespace ckpt::proc
