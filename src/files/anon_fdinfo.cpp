#include "files/anon_fdinfo.h"

#include <charconv>

#include "ckpt/error.h"
#include "proc/parse_util.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

std::string last_word(std::string_view key) {
  std::vector<std::string_view> words = proc::detail::split_words(key);
  return words.empty() ? std::string() : std::string(words.back());
}

}  // namespace

FdinfoFields::FdinfoFields(std::string_view key, std::string_view value)
    : origin_("fdinfo line \"" + std::string(key) + ":" + std::string(value) + "\"") {
  std::string pending = last_word(key);
  for (std::string_view word : proc::detail::split_words(value)) {
    size_t colon = word.find(':');
    if (colon == std::string_view::npos) {
      if (pending.empty()) throw Error("cannot parse " + origin_ + ": \"" + std::string(word) + "\" has no name");
      fields_[pending] = std::string(word);
      pending.clear();
    } else if (colon + 1 == word.size()) {
      pending = std::string(word.substr(0, colon));   // "events:" then its value
    } else {
      fields_[std::string(word.substr(0, colon))] = std::string(word.substr(colon + 1));
      pending.clear();
    }
  }
}

const std::string& FdinfoFields::text(const std::string& name) const {
  auto it = fields_.find(name);
  if (it == fields_.end()) throw Error("cannot parse " + origin_ + ": it has no " + name);
  return it->second;
}

uint64_t FdinfoFields::hex(const std::string& name) const {
  return proc::detail::to_u64(text(name), 16, origin_, name.c_str());
}

uint64_t FdinfoFields::dec(const std::string& name) const {
  return proc::detail::to_u64(text(name), 10, origin_, name.c_str());
}

bool fdinfo_has(const proc::Fdinfo& info, std::string_view key) {
  for (const auto& [k, v] : info.extra)
    if (k == key) return true;
  return false;
}

const std::string& fdinfo_value(const proc::Fdinfo& info, std::string_view key) {
  for (const auto& [k, v] : info.extra)
    if (k == key) return v;
  throw Error("its fdinfo has no " + std::string(key) + " line");
}

std::vector<FdinfoFields> fdinfo_objects(const proc::Fdinfo& info, std::string_view key) {
  std::vector<FdinfoFields> out;
  for (const auto& [k, v] : info.extra)
    if (k == key) out.emplace_back(k, v);
  return out;
}

uint64_t fdinfo_number(std::string_view text, int base, const char* what) {
  return proc::detail::to_u64(text, base, "fdinfo", what);
}

uint64_t fdinfo_timespec_ns(std::string_view text, const char* what) {
  // "(sec, nsec)"
  auto bad = [&] { return Error("cannot parse fdinfo: " + std::string(what) + " \"" + std::string(text) + "\""); };
  if (text.size() < 5 || text.front() != '(' || text.back() != ')') throw bad();
  std::string_view inner = text.substr(1, text.size() - 2);
  size_t comma = inner.find(',');
  if (comma == std::string_view::npos) throw bad();
  std::string_view sec = inner.substr(0, comma), nsec = inner.substr(comma + 1);
  while (!nsec.empty() && nsec.front() == ' ') nsec.remove_prefix(1);
  uint64_t s = proc::detail::to_u64(sec, 10, "fdinfo", what);
  uint64_t ns = proc::detail::to_u64(nsec, 10, "fdinfo", what);
  if (ns >= 1000000000 || s > (UINT64_MAX - ns) / 1000000000) throw bad();
  return s * 1000000000 + ns;
}

std::string fdinfo_hex_bytes(std::string_view text, const char* what) {
  if (text.size() % 2) throw Error("cannot parse fdinfo: " + std::string(what) + " \"" + std::string(text) + "\"");
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2)
    out.push_back(char(proc::detail::to_u64(text.substr(i, 2), 16, "fdinfo", what)));
  return out;
}

proc::Fdinfo own_fdinfo(int fd) {
  std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  return proc::parse_fdinfo(proc::read_file(path), path);
}

}  // namespace ckpt::files
