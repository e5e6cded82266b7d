// restore --root PATH: the tree's file system is the tree under PATH.
//
// The images record every path as the dump saw it from ckpt's root (fd
// links, mapped files, working directories, socket names), so at restore a
// path P of the images is looked up as PATH + P, and each task's root
// becomes PATH + its saved root.  /proc/PID entries and terminals are the
// host's (the same pids, ckpt's own devpts).  Without --root every path is
// the host's, unchanged.
//
// Carried in RestoreFdOptions::root and passed to whatever else looks a
// path up at restore; never a global.
#pragma once

#include <string>
#include <string_view>

#include "ckpt/unique_fd.h"

namespace ckpt::files {

class FsRoot {
 public:
  FsRoot() = default;               // the host's root
  // `dir`: an existing directory; throws an Error naming it otherwise.  It
  // is made absolute (realpath), so "/" and "" both mean the host's root.
  static FsRoot at(const std::string& dir);

  bool is_host() const { return dir_.empty(); }
  const std::string& dir() const { return dir_; }   // "" for the host's root
  // Where ckpt finds the images' absolute path `path`: PATH + path ("/"
  // itself is PATH).  A relative or empty path is returned unchanged.
  std::string host(std::string_view path) const;

  // The calling process inside PATH for a scope: its root is PATH, its
  // working directory PATH's "/", until the Entered goes, which puts both
  // back.  For the calls that keep the name they are given (bind(2) of a
  // unix socket: getsockname and the peers see that name, which must be
  // the image's, not PATH + it) or bound its length (a socket name has 108
  // bytes).  Nothing happens for the host's root.  A chroot is the whole
  // process's: callers are single-threaded (ckpt's tasks before their blob).
  class Entered {
   public:
    Entered() = default;
    Entered(Entered&&) = default;
    Entered& operator=(Entered&&) = delete;
    ~Entered();
    // Back in the old root and directory; throws if the kernel refuses.
    void leave();

   private:
    friend class FsRoot;
    UniqueFd root_, cwd_;           // the caller's, while inside
  };
  Entered enter() const;

 private:
  std::string dir_;                 // absolute, no trailing slash; "" = "/"
};

}  // namespace ckpt::files
