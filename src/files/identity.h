// A file's identity: which file a path named at dump time, so that restore
// can tell whether the path still names the same file.
#pragma once

#include <sys/stat.h>

#include <string>

#include "files/fs_root.h"
#include "mm.pb.h"

namespace ckpt::files {

img::FileIdentity make_identity(const std::string& path, const struct stat& st);

// Why the file `now` is not the recorded one (device or inode differ), or ""
// if it is the same file.
std::string identity_mismatch(const img::FileIdentity& recorded, const struct stat& now);

// stat()s the recorded path, under `root`, and checks it is the same file.
// Returns the stat; throws Error("PATH: REASON") if it is missing or another
// file, PATH as looked up (root's + the recorded one).
struct stat stat_same_file(const img::FileIdentity& recorded, const FsRoot& root);

// "8:1" for a device number.
std::string dev_name(dev_t dev);

}  // namespace ckpt::files
