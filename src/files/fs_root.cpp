#include "files/fs_root.h"

#include <sys/stat.h>

#include <cstdlib>

#include "ckpt/error.h"

namespace ckpt::files {

FsRoot FsRoot::at(const std::string& dir) {
  char* real = realpath(dir.c_str(), nullptr);
  if (!real) throw sys_error("cannot use " + dir + " as the root");
  std::string abs = real;
  free(real);
  struct stat st;
  if (stat(abs.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) throw Error("cannot use " + dir + " as the root: not a directory");
  FsRoot r;
  if (abs != "/") r.dir_ = abs;
  return r;
}

std::string FsRoot::host(std::string_view path) const {
  if (dir_.empty() || path.empty() || path[0] != '/') return std::string(path);
  return dir_ + std::string(path);
}

}  // namespace ckpt::files
