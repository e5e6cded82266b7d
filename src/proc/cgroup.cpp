#include "proc/cgroup.h"

#include <algorithm>

#include "proc/parse_util.h"

namespace ckpt::proc {

using namespace detail;

namespace {

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    if (comma != 0) out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::vector<CgroupLine> parse_cgroup(std::string_view text, const std::string& origin) {
  std::vector<CgroupLine> lines;
  for_each_line(text, [&](std::string_view line) {
    if (line.empty()) return;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) throw parse_error(origin, "a line without two colons: " + std::string(line));
    CgroupLine l;
    l.hierarchy = uint32_t(to_u64(line.substr(0, c1), 10, origin, "hierarchy id"));
    l.controllers = std::string(line.substr(c1 + 1, c2 - c1 - 1));
    l.path = std::string(line.substr(c2 + 1));  // a path may hold colons
    lines.push_back(std::move(l));
  });
  return lines;
}

bool CgroupMount::shows(const CgroupLine& line) const {
  if (line.v2() || v2) return line.v2() && v2;
  for (const std::string& c : split_commas(line.controllers))
    if (std::find(options.begin(), options.end(), c) == options.end()) return false;
  return true;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo, const std::string& origin) {
  std::vector<CgroupMount> mounts;
  for_each_line(mountinfo, [&](std::string_view line) {
    if (line.empty()) return;
    // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    std::vector<std::string_view> w = split_words(line);
    auto dash = std::find(w.begin(), w.end(), std::string_view("-"));
    if (w.size() < 6 || dash == w.end() || w.end() - dash < 4)
      throw parse_error(origin, "a line without its fields: " + std::string(line));
    std::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") return;
    CgroupMount m;
    m.v2 = fstype == "cgroup2";
    m.root = unescape_mountinfo(w[3]);
    m.mount_point = unescape_mountinfo(w[4]);
    m.options = split_commas(dash[3]);
    mounts.push_back(std::move(m));
  });
  return mounts;
}

}  // namespace ckpt::proc
