// The tool reports failures as exceptions carrying a full sentence: the object
// and the reason ("cannot dump fd 7 of pid 1234: io_uring is not supported").
// RAII owners undo partial work while the exception unwinds.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ckpt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// "what: strerror(err)"
inline Error sys_error(const std::string& what, int err = errno) {
  return Error(what + ": " + std::strerror(err));
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace ckpt
