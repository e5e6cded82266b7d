#include "proc/limits.h"

#include <sys/resource.h>

#include "proc/parse_util.h"

namespace ckpt::proc {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

uint64_t to_limit(std::string_view field, const std::string& origin) {
  if (field == "unlimited") return RLIM_INFINITY;
  return detail::to_u64(field, 10, origin, "a limit");
}

}  // namespace

// The table is laid out in fixed-width columns under a header naming them;
// the header tells where each column starts.
std::vector<Limit> parse_limits(std::string_view text, const std::string& origin) {
  size_t nl = text.find('\n');
  std::string_view header = text.substr(0, nl);
  size_t soft = header.find("Soft Limit"), hard = header.find("Hard Limit"), units = header.find("Units");
  if (soft == std::string_view::npos || hard == std::string_view::npos || units == std::string_view::npos ||
      !(soft < hard && hard < units))
    throw detail::parse_error(origin, "no 'Soft Limit', 'Hard Limit' and 'Units' header");
  std::vector<Limit> limits;
  if (nl == std::string_view::npos) return limits;
  detail::for_each_line(text.substr(nl + 1), [&](std::string_view line) {
    if (line.empty()) return;
    if (line.size() < units) throw detail::parse_error(origin, "short line '" + std::string(line) + "'");
    limits.push_back({to_limit(trim(line.substr(soft, hard - soft)), origin),
                      to_limit(trim(line.substr(hard, units - hard)), origin)});
  });
  return limits;
}

}  // namespace ckpt::proc
