#include "proc/mountinfo.h"

#include <sys/sysmacros.h>

#include <algorithm>

#include "proc/parse_util.h"
#include "proc/read.h"

namespace ckpt::proc {

using namespace detail;

std::vector<Mount> parse_mountinfo(std::string_view text, const std::string& origin) {
  std::vector<Mount> mounts;
  for_each_line(text, [&](std::string_view line) {
    if (line.empty()) return;
    // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    std::vector<std::string_view> w = split_words(line);
    auto dash = std::find(w.begin(), w.end(), std::string_view("-"));
    if (w.size() < 6 || dash == w.end() || w.end() - dash < 2)
      throw parse_error(origin, "a line without its fields: " + std::string(line));
    size_t colon = w[2].find(':');
    if (colon == std::string_view::npos) throw parse_error(origin, "a device without a colon: " + std::string(line));
    Mount m;
    m.id = int(to_i64(w[0], origin, "mount id"));
    m.parent = int(to_i64(w[1], origin, "parent id"));
    m.dev = makedev(unsigned(to_u64(w[2].substr(0, colon), 10, origin, "major")),
                    unsigned(to_u64(w[2].substr(colon + 1), 10, origin, "minor")));
    m.root = unescape_mountinfo(w[3]);
    m.mount_point = unescape_mountinfo(w[4]);
    m.fstype = std::string(dash[1]);
    mounts.push_back(std::move(m));
  });
  return mounts;
}

std::vector<Mount> own_mounts() {
  std::string path = "/proc/self/mountinfo";
  return parse_mountinfo(read_file(path), path);
}

}  // namespace ckpt::proc
