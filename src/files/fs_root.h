// restore --root PATH: the tree's file system is the tree under PATH.
//
// The images record every path as the dump saw it from ckpt's root (fd
// links, mapped files, working directories, socket names), so at restore a
// path P of the images is looked up as PATH + P, and each task's root
// becomes PATH + its saved root.  /proc/PID entries and terminals are the
// host's (the same pids, ckpt's own devpts).  Without --root every path is
// the host's, unchanged.
#pragma once

#include <string>
#include <string_view>

namespace ckpt::files {

class FsRoot {
 public:
  FsRoot() = default;               // the host's root
  // `dir`: an existing directory; throws an Error naming it otherwise.  It
  // is made absolute (realpath), so "/" and "" both mean the host's root.
  static FsRoot at(const std::string& dir);

  bool is_host() const { return dir_.empty(); }
  const std::string& dir() const { return dir_; }   // "" for the host's root
  // Where ckpt finds the images' absolute path `path`: PATH + path.  A
  // relative or empty path is returned unchanged.
  std::string host(std::string_view path) const;

 private:
  std::string dir_;                 // absolute, no trailing slash; "" = "/"
};

}  // namespace ckpt::files
