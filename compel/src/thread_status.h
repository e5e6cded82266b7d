// The credentials of one thread as /proc/PID/task/TID/status shows them
// (Linux keeps credentials per thread).  The ids are those seen from the
// reader's user namespace: the target's own when both share one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compel::proc {

struct ThreadStatus {
  uint32_t uid[4], gid[4];  // real, effective, saved, filesystem
  std::vector<uint32_t> groups;
  uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
  bool no_new_privs;
};

// Parses the text of a status file; on a missing or malformed line, says
// which in *error and returns nullopt.
std::optional<ThreadStatus> parse_thread_status(std::string_view text, std::string* error);

}  // namespace compel::proc
