#include "proc/maps.h"

#include <algorithm>

#include "proc/parse_util.h"

namespace ckpt::proc {

using namespace detail;

bool MapsEntry::has_vm_flag(std::string_view flag) const {
  return std::find(vm_flags.begin(), vm_flags.end(), flag) != vm_flags.end();
}

namespace {

constexpr std::string_view kDeleted = " (deleted)";

// The kernel escapes only the newline in paths (as "\012").
std::string unescape_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && name.substr(i + 1, 3) == "012") {
      out.push_back('\n');
      i += 3;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

// Takes the next space-delimited word off the front of `rest`.
std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  size_t space = rest.find(' ');
  std::string_view word = rest.substr(0, space);
  rest.remove_prefix(space == std::string_view::npos ? rest.size() : space);
  return word;
}

bool is_header_line(std::string_view line) {
  // "7f12...-7f13... rw-p ..."; smaps field lines start with a capitalised
  // key ("Size:"), never with hex digits followed by '-'.
  size_t dash = line.find('-');
  if (dash == 0 || dash == std::string_view::npos) return false;
  return std::all_of(line.begin(), line.begin() + dash, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

}  // namespace

MapsEntry parse_maps_line(std::string_view line, const std::string& origin) {
  MapsEntry e;
  std::string_view rest = line;
  std::string_view range = next_word(rest), perms = next_word(rest), offset = next_word(rest),
                   dev = next_word(rest), inode = next_word(rest);
  size_t dash = range.find('-');
  size_t colon = dev.find(':');
  if (dash == std::string_view::npos || perms.size() != 4 || colon == std::string_view::npos || inode.empty())
    throw parse_error(origin, "malformed line \"" + std::string(line) + "\"");
  e.start = to_u64(range.substr(0, dash), 16, origin, "start address");
  e.end = to_u64(range.substr(dash + 1), 16, origin, "end address");
  if (e.end <= e.start) throw parse_error(origin, "empty area in \"" + std::string(line) + "\"");
  e.read = perms[0] == 'r';
  e.write = perms[1] == 'w';
  e.exec = perms[2] == 'x';
  e.shared = perms[3] == 's';
  e.offset = to_u64(offset, 16, origin, "offset");
  e.dev_major = uint32_t(to_u64(dev.substr(0, colon), 16, origin, "device major"));
  e.dev_minor = uint32_t(to_u64(dev.substr(colon + 1), 16, origin, "device minor"));
  e.inode = to_u64(inode, 10, origin, "inode");
  // The name is padded to a column with spaces; it may itself hold spaces.
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.ends_with(kDeleted)) {
    e.deleted = true;
    rest.remove_suffix(kDeleted.size());
  }
  e.name = unescape_name(rest);
  return e;
}

std::vector<MapsEntry> parse_maps(std::string_view text, const std::string& origin) {
  std::vector<MapsEntry> entries;
  for_each_line(text, [&](std::string_view line) {
    if (line.empty()) return;
    if (is_header_line(line)) {
      entries.push_back(parse_maps_line(line, origin));
      return;
    }
    std::string_view key, value;
    if (!split_key_value(line, key, value) || entries.empty())
      throw parse_error(origin, "unexpected line \"" + std::string(line) + "\"");
    if (key == "VmFlags")
      for (std::string_view flag : split_words(value)) entries.back().vm_flags.emplace_back(flag);
  });
  return entries;
}

}  // namespace ckpt::proc
