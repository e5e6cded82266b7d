#include "ckpt/log.h"

#include "ckpt/fresh_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>

namespace ckpt::log {
namespace {

int g_verbosity = 2;
FILE* g_file = nullptr;
std::mutex g_mutex;

double seconds_since_start() {
  static const timespec start = [] {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
  }();
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return double(now.tv_sec - start.tv_sec) + double(now.tv_nsec - start.tv_nsec) / 1e9;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::Error: return "Error";
    case Level::Warn:  return "Warn ";
    case Level::Info:  return "Info ";
    case Level::Debug: return "Debug";
  }
  return "?    ";
}

}  // namespace

void set_verbosity(int level) { g_verbosity = level; }
int verbosity() { return g_verbosity; }

void open_file(int dirfd, const std::string& name, const std::string& path) {
  std::lock_guard lock(g_mutex);
  if (g_file) fclose(g_file);
  g_file = nullptr;
  // 0600 like the images: a log can name files and addresses of the process.
  // A fresh file, never a planted link's target (fresh_file.h).
  UniqueFd fd = create_fresh(dirfd, name, 0600);
  if (fd) g_file = fdopen(fd.get(), "w");
  if (g_file) fd.release();
  else fprintf(stderr, "cannot open log file %s: %m\n", path.c_str());
}

void close_file() {
  std::lock_guard lock(g_mutex);
  if (g_file) fclose(g_file);
  g_file = nullptr;
}

namespace {
void emit(Level level, bool to_stderr, const char* fmt, va_list ap) {
  char msg[4096];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  double t = seconds_since_start();
  std::lock_guard lock(g_mutex);
  if (to_stderr && int(level) <= g_verbosity) fprintf(stderr, "(%9.6f) %s: %s\n", t, level_name(level), msg);
  if (g_file) {
    fprintf(g_file, "(%9.6f) %s: %s\n", t, level_name(level), msg);
    fflush(g_file);
  }
}
}  // namespace

void vwrite(Level level, const char* fmt, va_list ap) { emit(level, true, fmt, ap); }

void file_only(Level level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, false, fmt, ap);
  va_end(ap);
}

void write(Level level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite(level, fmt, ap);
  va_end(ap);
}

}  // namespace ckpt::log
