// `ckpt verify DIR` and restore's first check: every image file of the set
// against its manifest (image/manifest.h).
#pragma once

#include <string>
#include <vector>

#include "image/image.h"

namespace ckpt::verify {

struct Result {
  bool has_manifest = false;
  size_t files = 0;                   // the files the manifest lists
  uint64_t bytes = 0;                 // their sizes, summed
  // One line per problem, each naming the file: "pages-1.img: SHA-256
  // differs (byte flipped?)", "core-4242.img: truncated (4096 of 8192
  // bytes)", "fdinfo-99.img: not in the manifest", "mm-4242.img: missing".
  std::vector<std::string> problems;
};

// Reads the manifest and every file it lists (each hashed whole), and lists
// the directory for image files it does not list.  Never throws for what
// the directory holds: every problem is a line of the result.
Result check(const image::ImageDir& dir);

// For restore, before anything is made: throws Error naming every problem
// ("images in DIR are incomplete: no manifest.img ..." for a set without
// one); returns quietly, logging what was verified, otherwise.
void require_verified(const image::ImageDir& dir);

}  // namespace ckpt::verify
