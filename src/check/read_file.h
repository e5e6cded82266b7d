// Whole-file reads of small /proc files.
#pragma once

#include <string>

namespace ckpt::check {

// Reads the whole file (proc files report size 0, so read to EOF); throws
// ckpt::Error naming the path.
std::string read_file(const std::string& path);

}  // namespace ckpt::check
