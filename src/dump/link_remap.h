// dump --link-remap: a deleted file that still has other names (st_nlink >
// 0) cannot be copied into the images as a ghost without losing what it
// shares with them (a write through the fd must still reach the other
// names).  ckpt links the very inode back into the file system instead,
// under a hidden name next to where it was:
//
//   /srv/data/log (deleted), nlink 1  ->  /srv/data/.ckpt_link_remap.ROOT.ID
//
// and records that name in its ghost image (GhostHead.link_remap).  The
// links are files in the user's file system: a dump that fails removes
// every one it made; a dump that commits leaves them (with --leave-running
// too) for the restore, which removes each once it succeeded
// (restore/shared_memory.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::dump {

class LinkRemaps {
 public:
  LinkRemaps() = default;
  LinkRemaps(const LinkRemaps&) = delete;
  LinkRemaps& operator=(const LinkRemaps&) = delete;
  // Unless keep() was called (the images are committed), removes every
  // link made.
  ~LinkRemaps();

  // Links the inode ckpt's fd `fd` is open on into the directory of `path`
  // (where it was, without " (deleted)") as a fresh name made of `tag` and
  // `id` (another one if that is taken), and returns the link's path.
  // Throws Error naming `path` and the link.
  std::string link(int fd, const std::string& path, const std::string& tag, uint32_t id);

  // The images that name the links are committed: they stay.
  void keep() { kept_ = true; }
  const std::vector<std::string>& made() const { return made_; }

 private:
  std::vector<std::string> made_;
  bool kept_ = false;
};

// The hidden name of link `n` (0 first) for ghost `id` next to `path`:
// "/dir/.ckpt_link_remap.TAG.ID" then "/dir/.ckpt_link_remap.TAG.ID.N".
std::string link_remap_name(const std::string& path, const std::string& tag, uint32_t id, int n);

}  // namespace ckpt::dump
