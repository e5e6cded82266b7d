// Config files in CRIU's syntax: one option a line, its name without the
// leading dashes, its argument after whitespace or '=' ("ghost-limit 2M",
// "ghost-limit=2M"), '#' to the end of the line a comment, blank lines
// ignored, an argument with spaces in double quotes ("\"" for a quote).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ckpt::cli {

struct ConfigItem {
  std::string name;                  // long option name, no dashes
  std::optional<std::string> value;  // its argument, if the line has one
  std::string origin;                // "FILE:LINE", for error messages
};

// The options of the text of config file `path`.  Throws UsageError
// ("FILE:LINE: reason") for a line that is not an option.
std::vector<ConfigItem> parse_config_text(const std::string& text, const std::string& path);

// Reads and parses config file `path`.  missing_ok: a file that does not
// exist gives nothing (the default files); any other failure to read it is
// an error naming the file.
std::vector<ConfigItem> read_config_file(const std::string& path, bool missing_ok);

}  // namespace ckpt::cli
