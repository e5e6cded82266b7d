// One logger for the whole tool: every line carries the time since start and
// its level.  Output goes to stderr and, once a log file is opened, there too.
#pragma once

#include <cstdarg>
#include <string>

namespace ckpt::log {

enum class Level { Error = 1, Warn = 2, Info = 3, Debug = 4 };

// -v0 .. -v4; 0 silences everything but errors on the log file.
void set_verbosity(int level);
int verbosity();

// Opens a log file: `name` relative to `dirfd` (or AT_FDCWD), `path` for
// messages; whatever was under the name is replaced by a fresh file, so a
// planted symlink or hard link is never written through.  Lines still go to
// stderr up to the verbosity.
// The file receives every level up to Debug regardless of -v so a failed run
// can be diagnosed afterwards.
void open_file(int dirfd, const std::string& name, const std::string& path);
void close_file();

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level level, const char* fmt, va_list ap);
// Writes only to the log file (for the final error, which main() prints to
// stderr itself without a timestamp).
void file_only(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ckpt::log

#define LOG_ERR(...)   ::ckpt::log::write(::ckpt::log::Level::Error, __VA_ARGS__)
#define LOG_WARN(...)  ::ckpt::log::write(::ckpt::log::Level::Warn, __VA_ARGS__)
#define LOG_INFO(...)  ::ckpt::log::write(::ckpt::log::Level::Info, __VA_ARGS__)
#define LOG_DEBUG(...) ::ckpt::log::write(::ckpt::log::Level::Debug, __VA_ARGS__)
