// The kind-specific lines of /proc/PID/fdinfo of the anonymous-inode kinds
// (proc::Fdinfo::extra), read by their modules (eventfd.cpp, epoll.cpp ...).
//
// Lines with one value ("eventfd-count: 5", "sigmask: 0000000000000200")
// are read by key.  Lines that describe one object each, as
//   "inotify wd:2 ino:3ad sdev:fe00000 mask:100 ... f_handle:ad03..."
//   "tfd:        4 events: 19 data: 4d  pos:0 ino:12 sdev:10"
// arrive split at their first colon ("inotify wd" / "2 ino:3ad ...") and
// are read as fields: the first value belongs to the key's last word ("wd",
// "tfd"); then "name:value" or "name: value".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proc/fdinfo.h"

namespace ckpt::files {

class FdinfoFields {
 public:
  // `origin` names the line in errors ("fdinfo line \"inotify wd:2 ...\"").
  FdinfoFields(std::string_view key, std::string_view value);
  bool has(const std::string& name) const { return fields_.count(name) != 0; }
  const std::string& text(const std::string& name) const;        // throws if missing
  uint64_t hex(const std::string& name) const;                    // throws if missing or not hex
  uint64_t dec(const std::string& name) const;
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::map<std::string, std::string> fields_;
};

// The value of the first extra line with key `key`; throws Error naming the
// key if there is none.
const std::string& fdinfo_value(const proc::Fdinfo& info, std::string_view key);
// Whether there is such a line.
bool fdinfo_has(const proc::Fdinfo& info, std::string_view key);
// Every extra line whose key is `key` ("tfd", "inotify wd"), as fields, in order.
std::vector<FdinfoFields> fdinfo_objects(const proc::Fdinfo& info, std::string_view key);

// A number of an fdinfo line; throws Error naming `what` if it is not one.
uint64_t fdinfo_number(std::string_view text, int base, const char* what);

// "(99, 993225929)" (seconds, nanoseconds) -> nanoseconds.
uint64_t fdinfo_timespec_ns(std::string_view text, const char* what);

// The raw bytes of an f_handle field ("ad0300003fe9a2c7").
std::string fdinfo_hex_bytes(std::string_view text, const char* what);

// /proc/self/fdinfo of one of our own fds (a duplicate of the tree's
// description): read again where the kernel's view may have moved on since
// describe_fd() (a timer).
proc::Fdinfo own_fdinfo(int fd);

}  // namespace ckpt::files
