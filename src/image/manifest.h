// The manifest of an image set (manifest.img): the size and SHA-256 of
// every other image file, written by dump after everything else (the
// inventory included), so that a set without it is incomplete.  Readers
// of the set (`ckpt verify`, restore) compare each file with it
// (src/verify/).
#pragma once

#include <string>
#include <vector>

#include "image/image.h"

namespace ckpt::image {

inline constexpr const char* kManifestAlgorithm = "sha256";

// Writes manifest.img for `files` (sorted by name here) and commits it,
// synced: the last file of a dump.
void write_manifest(const ImageDir& dir, std::vector<FileDigest> files);

// The files the manifest lists, sorted by name.  Throws CorruptedImage for
// a manifest that does not hold what it should (a name that is not an image
// file's, a name twice, a digest that is not 64 hex digits, fewer or more
// files than its head says), Error if it cannot be read at all.
std::vector<FileDigest> read_manifest(const ImageDir& dir);

// Hashes the image file `name` of `dir` by reading it (opened as every image
// is: no symlink followed, a regular file only).  `expected_size` bounds the
// read: a file that changes size meanwhile is reported, not followed.
FileDigest digest_file(const ImageDir& dir, const std::string& name, uint64_t expected_size);

}  // namespace ckpt::image
