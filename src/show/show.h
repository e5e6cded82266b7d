// `ckpt show`: images as JSON, one line per record so that the output greps
// as well as it parses.
#pragma once

#include <string>

namespace ckpt::show {

// The JSON of one image file ({"magic": "core", "version": 1, "entries":
// [...]}) or of a directory (an object keyed by image file name, sorted).
// Throws image::CorruptedImage for a corrupted image, ckpt::Error otherwise.
std::string to_json(const std::string& path);

}  // namespace ckpt::show
