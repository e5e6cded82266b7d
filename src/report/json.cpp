#include "report/json.h"

#include "ckpt/error.h"

namespace ckpt::report {

namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if there is none
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += format("\\u%04x", c);
        } else if (size_t n = utf8_length(text, i); n == 0) {
          out += "\\ufffd";  // one replacement per stray byte
        } else {
          out.append(text.substr(i, n));
          i += n;
          continue;
        }
    }
    i++;
  }
  return out + "\"";
}

void JsonObject::key(std::string_view k) {
  if (!body_.empty()) body_ += ",";
  body_ += json_string(k) + ":";
}

JsonObject& JsonObject::add(std::string_view k, std::string_view value) {
  key(k);
  body_ += json_string(value);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); i++) out += (i ? "," : "") + items[i];
  return out + "]";
}

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string field_value(const Message& m, const Reflection& r, const FieldDescriptor* f, int index) {
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return std::to_string(rep ? r.GetRepeatedInt32(m, f, index) : r.GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: return std::to_string(rep ? r.GetRepeatedInt64(m, f, index) : r.GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r.GetRepeatedUInt32(m, f, index) : r.GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r.GetRepeatedUInt64(m, f, index) : r.GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return format("%.17g", rep ? r.GetRepeatedDouble(m, f, index) : r.GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return format("%.9g", double(rep ? r.GetRepeatedFloat(m, f, index) : r.GetFloat(m, f)));
    case FieldDescriptor::CPPTYPE_BOOL: return (rep ? r.GetRepeatedBool(m, f, index) : r.GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return json_string((rep ? r.GetRepeatedEnum(m, f, index) : r.GetEnum(m, f))->name());
    case FieldDescriptor::CPPTYPE_STRING:
      return json_string(rep ? r.GetRepeatedString(m, f, index) : r.GetString(m, f));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return message_json(rep ? r.GetRepeatedMessage(m, f, index) : r.GetMessage(m, f));
  }
  return "null";
}

}  // namespace

std::string message_json(const Message& m) {
  const Reflection& r = *m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r.ListFields(m, &fields);  // the set ones, in field-number order
  JsonObject o;
  for (const FieldDescriptor* f : fields) {
    if (!f->is_repeated()) {
      o.add_raw(f->name(), field_value(m, r, f, 0));
      continue;
    }
    std::vector<std::string> items;
    for (int i = 0; i < r.FieldSize(m, f); i++) items.push_back(field_value(m, r, f, i));
    o.add_raw(f->name(), json_array(items));
  }
  return o.str();
}

}  // namespace ckpt::report
