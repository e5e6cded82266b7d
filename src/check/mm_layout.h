// The memory layout fields of a process as PR_SET_MM_MAP takes them, parsed
// from /proc/PID/stat.  Header-only and pure so that the unit tests can feed
// it text.
#pragma once

#include <linux/prctl.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::check {

struct MmLayout {
  struct prctl_mm_map map;
  std::vector<__u64> auxv;  // key/value pairs, AT_NULL included
};

// Field N of /proc/PID/stat, counted from 1 as in proc(5); the command name
// (field 2) may hold spaces and parentheses, so counting starts after the
// last ')'.
inline std::optional<uint64_t> stat_field(std::string_view stat, int n) {
  size_t close = stat.rfind(')');
  if (n < 3 || close == std::string_view::npos) return std::nullopt;
  size_t pos = close + 1;
  for (int field = 3;; ++field) {
    pos = stat.find_first_not_of(' ', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    size_t end = stat.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = stat.size();
    if (field == n) {
      std::string token(stat.substr(pos, end - pos));
      char* rest = nullptr;
      uint64_t v = std::strtoull(token.c_str(), &rest, 10);
      if (token.empty() || *rest != '\0') return std::nullopt;
      return v;
    }
    pos = end;
  }
}

// Every field but brk, auxv and exe_fd, which /proc/PID/stat does not carry.
inline std::optional<struct prctl_mm_map> parse_stat_mm(std::string_view stat) {
  struct prctl_mm_map m = {};
  struct {
    __u64* dst;
    int field;
  } const fields[] = {
      {&m.start_code, 26}, {&m.end_code, 27},  {&m.start_stack, 28}, {&m.start_data, 45},
      {&m.end_data, 46},   {&m.start_brk, 47}, {&m.arg_start, 48},   {&m.arg_end, 49},
      {&m.env_start, 50},  {&m.env_end, 51},
  };
  for (const auto& f : fields) {
    auto v = stat_field(stat, f.field);
    if (!v) return std::nullopt;
    *f.dst = *v;
  }
  m.exe_fd = static_cast<__u32>(-1);
  return m;
}

// Reads this process's own layout (/proc/self/stat, the current brk and
// /proc/self/auxv); throws ckpt::Error.
MmLayout read_mm_layout();

}  // namespace ckpt::check
