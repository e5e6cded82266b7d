// /proc/PID/auxv: the ELF auxiliary vector, binary pairs of u64.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

// The vector as flat (type, value) pairs up to and including the AT_NULL
// pair, the form prctl(PR_SET_MM_AUXV) takes back.
std::vector<uint64_t> parse_auxv(std::string_view bytes, const std::string& origin = "auxv");

}  // namespace ckpt::proc
