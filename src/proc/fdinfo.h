// /proc/PID/fdinfo/FD: position, flags and kind-specific lines of one fd.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::proc {

struct Fdinfo {
  uint64_t pos = 0;
  uint32_t flags = 0;             // O_* as the kernel holds them, O_CLOEXEC included
  int mnt_id = -1;
  uint64_t ino = 0;
  // Every other "key: value" line, in order (eventfd-count, tfd, ...), for
  // the modules of kinds that have them.
  std::vector<std::pair<std::string, std::string>> extra;
};

// `origin` names the source in errors ("/proc/1234/fdinfo/5").
Fdinfo parse_fdinfo(std::string_view text, const std::string& origin = "fdinfo");

}  // namespace ckpt::proc
