// Common ground of the compel test targets: fd 3 carries status lines to the
// driver ("ready ..."), fd 4 carries commands from it.  A target exits 0 if
// its self-check passed, 1 (with a FAIL line on stderr) if not.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace target {

constexpr int kStatusFd = 3;
constexpr int kControlFd = 4;

inline void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void say(const char* fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > static_cast<int>(sizeof(buf)) - 2) n = sizeof(buf) - 2;
  buf[n++] = '\n';
  if (write(kStatusFd, buf, static_cast<size_t>(n)) != n) _exit(3);
}

[[noreturn]] inline void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] inline void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  _exit(1);
}

// True once the driver has written something to the control fd.
inline bool stop_requested() {
  struct pollfd p = {kControlFd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

// Blocks in read(2) on the control fd; the line read, without newline.
// A read interrupted by anything (EINTR) is a failure: compel must restart it.
inline std::string read_command() {
  char buf[256];
  ssize_t n = read(kControlFd, buf, sizeof(buf) - 1);
  if (n < 0) fail("read on the control pipe failed: %s", strerror(errno));
  if (n == 0) fail("the control pipe was closed");
  buf[n] = 0;
  if (buf[n - 1] == '\n') buf[n - 1] = 0;
  return buf;
}

}  // namespace target
