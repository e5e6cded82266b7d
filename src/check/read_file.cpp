#include "check/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::check {

std::string read_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot open " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("cannot read " + path);
    if (n == 0) return out;
    out.append(buf, size_t(n));
  }
}

}  // namespace ckpt::check
