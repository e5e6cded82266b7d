#include "mem/page_frames.h"

#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "proc/read.h"

namespace ckpt::mem {

PageFrames::PageFrames(pid_t pid, uint64_t page_size) : pid_(pid), page_size_(page_size) {
  std::string path = proc::path(pid, "pagemap");
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw sys_error(format("cannot read the page frames of pid %d: cannot open %s", pid, path.c_str()));
}

void PageFrames::read(uint64_t start, uint64_t end, std::vector<uint64_t>& out) const {
  out.resize((end - start) / page_size_);
  const size_t bytes = out.size() * sizeof(uint64_t);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = pread(fd_.get(), reinterpret_cast<char*>(out.data()) + done, bytes - done,
                      off_t(start / page_size_ * sizeof(uint64_t) + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error(format("cannot read the page frames of pid %d at %llx", pid_, (unsigned long long)start));
    if (n == 0)
      throw Error(format("cannot read the page frames of pid %d at %llx: the pagemap ends early", pid_,
                         (unsigned long long)start));
    done += size_t(n);
  }
}

}  // namespace ckpt::mem
