#include "thread_status.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace compel::proc {

namespace {

// The value of the line "key:\t...", nullopt if there is none.
std::optional<std::string_view> line_value(std::string_view text, std::string_view key) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':')
      return line.substr(key.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

// The whitespace-separated numbers of a value, in base 10 or 16; nullopt if
// a word is not a number that fits in max.
std::optional<std::vector<uint64_t>> numbers(std::string_view value, int base, uint64_t max) {
  std::string copy(value);  // strtoull needs a terminated string
  std::vector<uint64_t> out;
  const char* p = copy.c_str();
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return out;
    if (!std::isxdigit(static_cast<unsigned char>(*p))) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(p, &end, base);
    if (errno || end == p || (*end && *end != ' ' && *end != '\t') || v > max) return std::nullopt;
    out.push_back(v);
    p = end;
  }
}

}  // namespace

std::optional<ThreadStatus> parse_thread_status(std::string_view text, std::string* error) {
  // The numbers of the line "key:", count of them unless count is 0.
  auto field = [&](const char* key, int base, uint64_t max, size_t count) -> std::optional<std::vector<uint64_t>> {
    std::optional<std::string_view> value = line_value(text, key);
    if (!value) {
      *error = std::string("no ") + key + " line";
      return std::nullopt;
    }
    auto v = numbers(*value, base, max);
    if (!v || (count && v->size() != count)) {
      *error = std::string("malformed ") + key + " line \"" + std::string(*value) + "\"";
      return std::nullopt;
    }
    return v;
  };
  constexpr uint64_t kId = UINT32_MAX, kMask = UINT64_MAX;
  ThreadStatus st{};
  struct Ids {
    const char* key;
    uint32_t* to;
  };
  for (Ids ids : {Ids{"Uid", st.uid}, Ids{"Gid", st.gid}}) {
    auto v = field(ids.key, 10, kId, 4);
    if (!v) return std::nullopt;
    for (int i = 0; i < 4; i++) ids.to[i] = static_cast<uint32_t>((*v)[i]);
  }
  auto groups = field("Groups", 10, kId, 0);
  if (!groups) return std::nullopt;
  st.groups.assign(groups->begin(), groups->end());
  struct Cap {
    const char* key;
    uint64_t* to;
  };
  for (Cap c : {Cap{"CapInh", &st.cap_inh}, Cap{"CapPrm", &st.cap_prm}, Cap{"CapEff", &st.cap_eff},
                Cap{"CapBnd", &st.cap_bnd}, Cap{"CapAmb", &st.cap_amb}}) {
    auto v = field(c.key, 16, kMask, 1);
    if (!v) return std::nullopt;
    *c.to = (*v)[0];
  }
  auto nnp = field("NoNewPrivs", 10, 1, 1);
  if (!nnp) return std::nullopt;
  st.no_new_privs = (*nnp)[0] != 0;
  return st;
}

}  // namespace compel::proc
