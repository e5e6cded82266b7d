// Internal to the image layer: how every image file is opened for reading.
// An images directory may be another user's, or a broken copy: nothing in it
// is trusted to be what its name says.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "ckpt/unique_fd.h"
#include "image/image.h"

namespace ckpt::image::detail {

// Opens `rel` relative to `dirfd` (AT_FDCWD for a path of the user's) for
// reading: without following a symbolic link in its last component, without
// blocking (a FIFO or a device is refused by fstat before any read), and
// only if it is a regular file of at most `limit` bytes.  `name` is the path
// for messages: "cannot read image DIR/core-1.img: it is a FIFO, not a
// regular file".  `*direct`, if given and true, asks for O_DIRECT, and
// is cleared where the file system refuses it.  Fills `st`.
UniqueFd open_image_file(int dirfd, const std::string& rel, const std::string& name, uint64_t limit,
                         struct stat& st, bool* direct = nullptr);

// "64 MiB", "4 GiB", "1234 bytes"
std::string size_text(uint64_t bytes);

}  // namespace ckpt::image::detail
