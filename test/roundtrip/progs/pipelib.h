// Helpers of the pipe_*.cpp round trips: a byte pattern to fill pipes with
// and check it back, and whole reads and writes.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>

#include <string>

#include "testlib.h"

namespace rt {

// Byte `i` of a pattern that tells a lost, doubled or reordered byte.
inline char pattern_byte(size_t i, unsigned seed) { return char((i * 7 + i / 251 + seed) & 0xff); }

inline std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = pattern_byte(i, seed);
  return s;
}

inline void write_all(int fd, const std::string& data, const char* what) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    RT_CHECK(n > 0, "write %s: %s", what, strerror(errno));
    done += size_t(n);
  }
}

// Exactly `n` bytes (fails on EOF or an error first).
inline std::string read_exactly(int fd, size_t n, const char* what) {
  std::string s(n, '\0');
  for (size_t got = 0; got < n;) {
    ssize_t k = read(fd, s.data() + got, n - got);
    RT_CHECK(k > 0, "read %s: got %zu of %zu bytes (%s)", what, got, n, k == 0 ? "EOF" : strerror(errno));
    got += size_t(k);
  }
  return s;
}

inline int queued(int fd) {
  int n = -1;
  RT_CHECK(ioctl(fd, FIONREAD, &n) == 0, "FIONREAD: %s", strerror(errno));
  return n;
}

inline void expect_pattern(const std::string& got, size_t n, unsigned seed, const char* what) {
  RT_CHECK(got.size() == n, "%s: %zu bytes, want %zu", what, got.size(), n);
  for (size_t i = 0; i < n; i++)
    RT_CHECK(got[i] == pattern_byte(i, seed), "%s: byte %zu is 0x%02x, want 0x%02x", what, i, got[i] & 0xff,
             pattern_byte(i, seed) & 0xff);
}

}  // namespace rt
