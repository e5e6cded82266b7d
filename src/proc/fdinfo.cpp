#include "proc/fdinfo.h"

#include "proc/parse_util.h"

namespace ckpt::proc {

using namespace detail;

Fdinfo parse_fdinfo(std::string_view text, const std::string& origin) {
  Fdinfo info;
  bool seen_pos = false, seen_flags = false;
  for_each_line(text, [&](std::string_view line) {
    std::string_view key, value;
    if (line.empty() || !split_key_value(line, key, value)) return;
    if (key == "pos") info.pos = to_u64(value, 10, origin, "pos"), seen_pos = true;
    else if (key == "flags") info.flags = uint32_t(to_u64(value, 8, origin, "flags")), seen_flags = true;
    else if (key == "mnt_id") info.mnt_id = int(to_i64(value, origin, "mnt_id"));
    else if (key == "ino") info.ino = to_u64(value, 10, origin, "ino");
    else info.extra.emplace_back(std::string(key), std::string(value));
  });
  if (!seen_pos || !seen_flags) throw parse_error(origin, "no pos or flags line");
  return info;
}

}  // namespace ckpt::proc
