#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/unique_fd.h"
#include "cli/options.h"

namespace ckpt::cli {
namespace {

// A config file is a handful of lines; anything this big is not one.
constexpr off_t kMaxConfigSize = 1 << 20;

[[noreturn]] void fail(const std::string& origin, const std::string& reason) {
  throw UsageError{origin + ": " + reason, std::nullopt, false};
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits one line into words: runs of characters without whitespace, parts
// of which may be in double quotes (which keep whitespace and '#').  A '#'
// that starts a word starts a comment.
std::vector<std::string> split_words(const std::string& line, const std::string& origin) {
  std::vector<std::string> words;
  size_t i = 0, n = line.size();
  for (;;) {
    while (i < n && is_space(line[i])) i++;
    if (i == n || line[i] == '#') break;
    std::string word;
    while (i < n && !is_space(line[i])) {
      if (line[i] != '"') {
        word += line[i++];
        continue;
      }
      i++;  // the opening quote
      while (i < n && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '"') i++;  // \" is a quote
        word += line[i++];
      }
      if (i == n) fail(origin, "unterminated double quote");
      i++;  // the closing quote
    }
    words.push_back(word);
  }
  return words;
}

}  // namespace

std::vector<ConfigItem> parse_config_text(const std::string& text, const std::string& path) {
  std::vector<ConfigItem> items;
  size_t start = 0;
  for (int line_no = 1; start <= text.size(); line_no++) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    std::string origin = path + ":" + std::to_string(line_no);
    std::vector<std::string> words = split_words(line, origin);
    if (words.empty()) continue;
    ConfigItem item{words[0], std::nullopt, origin};
    if (item.name.starts_with("-"))
      fail(origin, "'" + item.name + "': write the option without its leading dashes");
    if (size_t eq = item.name.find('='); eq != std::string::npos) {
      item.value = item.name.substr(eq + 1);
      item.name.resize(eq);
      if (words.size() > 1) fail(origin, "option '" + item.name + "' has more than one argument");
    } else if (words.size() == 2) {
      item.value = words[1];
    } else if (words.size() > 2) {
      fail(origin, "option '" + item.name + "' has more than one argument (quote an argument that holds spaces)");
    }
    if (item.name.empty()) fail(origin, "an argument without an option name");
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<ConfigItem> read_config_file(const std::string& path, bool missing_ok) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (missing_ok && errno == ENOENT) return {};
    throw UsageError{"cannot read config file " + path + ": " + std::strerror(errno), std::nullopt, false};
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    throw UsageError{"cannot read config file " + path + ": " + std::strerror(errno), std::nullopt, false};
  if (!S_ISREG(st.st_mode))
    throw UsageError{"cannot read config file " + path + ": it is not a regular file", std::nullopt, false};
  if (st.st_size > kMaxConfigSize)
    throw UsageError{"cannot read config file " + path + ": it is larger than 1 MiB", std::nullopt, false};
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t got = read(fd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw UsageError{"cannot read config file " + path + ": " + std::strerror(errno), std::nullopt, false};
    if (got == 0) break;
    text.append(buf, size_t(got));
    if (text.size() > size_t(kMaxConfigSize))
      throw UsageError{"cannot read config file " + path + ": it is larger than 1 MiB", std::nullopt, false};
  }
  return parse_config_text(text, path);
}

}  // namespace ckpt::cli
