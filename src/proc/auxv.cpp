#include "proc/auxv.h"

#include <elf.h>

#include <cstring>

#include "proc/parse_util.h"

namespace ckpt::proc {

std::vector<uint64_t> parse_auxv(std::string_view bytes, const std::string& origin) {
  constexpr size_t kPair = 2 * sizeof(uint64_t);
  std::vector<uint64_t> pairs;
  for (size_t at = 0; at + kPair <= bytes.size(); at += kPair) {
    uint64_t type, value;
    std::memcpy(&type, bytes.data() + at, sizeof(type));
    std::memcpy(&value, bytes.data() + at + sizeof(type), sizeof(value));
    pairs.push_back(type);
    pairs.push_back(value);
    if (type == AT_NULL) return pairs;
  }
  throw detail::parse_error(origin, "no AT_NULL entry in " + std::to_string(bytes.size()) + " bytes");
}

}  // namespace ckpt::proc
