// Helpers shared by the /proc parsers: numbers from text, line splitting,
// and the one error they throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/error.h"

namespace ckpt::proc::detail {

// "cannot parse ORIGIN: REASON"
Error parse_error(const std::string& origin, const std::string& reason);

// The whole of `text` as an unsigned number in `base`; throws parse_error
// naming `what` if it is empty, has other characters or overflows.
uint64_t to_u64(std::string_view text, int base, const std::string& origin, const char* what);
int64_t to_i64(std::string_view text, const std::string& origin, const char* what);

// Splits on any run of spaces/tabs, dropping empty pieces.
std::vector<std::string_view> split_words(std::string_view text);

// Calls f(line) for each line of text, without the newline.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// "Key:\tvalue" -> {"Key", "value"}; false if the line has no colon.
bool split_key_value(std::string_view line, std::string_view& key, std::string_view& value);

// mountinfo writes space, tab, newline and backslash in paths as \ooo:
// the path itself.
std::string unescape_mountinfo(std::string_view s);

}  // namespace ckpt::proc::detail
