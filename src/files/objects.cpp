#include "files/objects.h"

#include <fcntl.h>

#include "ckpt/error.h"

namespace ckpt::files {

UniqueFd reopen_fd(int fd, int flags, const std::string& what) {
  std::string link = format("/proc/self/fd/%d", fd);
  UniqueFd opened(::open(link.c_str(), flags | O_CLOEXEC));
  if (!opened) throw sys_error("cannot open " + what + " again through " + link);
  return opened;
}

}  // namespace ckpt::files
