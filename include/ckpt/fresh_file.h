// Files ckpt writes outside the image layer (logs, pidfiles), created so
// that nothing planted under their names is ever followed or written
// through: a directory writable by another user may hold a symlink or a
// hard link to a file of someone else's where ckpt's log is to go.
#pragma once

#include <string>

#include "ckpt/unique_fd.h"

namespace ckpt {

// Removes whatever entry is at `name` (relative to `dirfd`, or AT_FDCWD)
// without following it, then creates a new, empty file there with
// O_CREAT | O_EXCL | O_NOFOLLOW and exactly `mode`: the file written is one
// ckpt made, never a planted link's target.  If something reappears under
// the name between the two steps (a race with whoever planted it), the
// creation fails with EEXIST and so does this: returns an invalid fd with
// errno set.
UniqueFd create_fresh(int dirfd, const std::string& name, unsigned mode);

// Writes `text` to `path` all at once: into a fresh "<path>.tmp" (as
// create_fresh), then renamed over `path`, so a reader sees the old content
// or the whole new one and a link planted at either name is replaced, not
// followed.  Throws naming `what` ("the pidfile").
void write_file_replacing(const std::string& path, const std::string& text, unsigned mode, const std::string& what);

}  // namespace ckpt
