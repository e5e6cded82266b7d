// A tiny JSON writer for ckpt's machine-readable output (--json): no JSON
// library is linked, and protobuf's JSON printer writes 64-bit integers as
// strings, which tools reading counters do not want.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ckpt::report {

// A JSON string literal, quotes included: '"', '\\' and control characters
// escaped (\n, \t, ... or \u00XX); bytes that are not valid UTF-8 become
// U+FFFD, so the output is always valid JSON whatever a path holds.
std::string json_string(std::string_view text);

// Builds one object, keys in the order added.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  JsonObject& add(std::string_view key, T value) {
    return add_raw(key, std::to_string(value));
  }
  JsonObject& add(std::string_view key, bool value);
  // `json` is already JSON (an object, an array).
  JsonObject& add_raw(std::string_view key, std::string_view json);
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

// "[a,b,...]" of values that are already JSON.
std::string json_array(const std::vector<std::string>& items);

// A protobuf message as a JSON object by reflection: numbers as numbers
// (64-bit ones too), enums by name, only the fields that are set.
std::string message_json(const google::protobuf::Message& m);

}  // namespace ckpt::report
