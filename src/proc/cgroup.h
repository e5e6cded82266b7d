// /proc/PID/cgroup and the cgroup file systems of /proc/PID/mountinfo.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

// One line of /proc/PID/cgroup: "4:memory:/a/b" (cgroup v1: the hierarchy's
// id and its controllers, or "name=X" for a named one) or "0::/a/b" (the
// cgroup v2 hierarchy: no controllers listed).  The path is relative to the
// reader's cgroup namespace.
struct CgroupLine {
  uint32_t hierarchy = 0;
  std::string controllers;
  std::string path;
  bool v2() const { return hierarchy == 0 && controllers.empty(); }
};

std::vector<CgroupLine> parse_cgroup(std::string_view text, const std::string& origin = "cgroup");

// A mounted cgroup file system: cgroup2, or a cgroup v1 hierarchy whose
// super options name its controllers ("rw,cpu,cpuacct", "rw,name=systemd").
struct CgroupMount {
  bool v2 = false;
  std::string root;                  // the cgroup at the mount point ("/" mostly)
  std::string mount_point;
  std::vector<std::string> options;  // the super options, split at commas
  // Whether this mount shows the hierarchy of `line`.
  bool shows(const CgroupLine& line) const;
};

// The cgroup and cgroup2 mounts of a mountinfo text, in its order (octal
// escapes such as \040 in paths decoded).
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo, const std::string& origin = "mountinfo");

}  // namespace ckpt::proc
