// /proc/PID/limits: the resource limits of a process.  Read from /proc
// rather than with prlimit(2), which needs CAP_SYS_RESOURCE for a process
// of another user even when the dumper is root.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

struct Limit {
  uint64_t cur, max;  // RLIM_INFINITY for "unlimited"
};

// One entry per row, in the kernel's order, which is RLIMIT_* order.
std::vector<Limit> parse_limits(std::string_view text, const std::string& origin = "limits");

}  // namespace ckpt::proc
