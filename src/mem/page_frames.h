// The page frame numbers of a process's pages, from /proc/PID/pagemap: one
// u64 per page, bit 63 present, bits 0-54 the frame number (the kernel
// shows it only to CAP_SYS_ADMIN and reads 0 otherwise).  Two processes
// that map the same frame share that physical page (copy-on-write since
// fork), so its data is the same in both.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "ckpt/unique_fd.h"

namespace ckpt::mem {

inline constexpr uint64_t kPagemapPresent = 1ull << 63;
inline constexpr uint64_t kPagemapFrameMask = (1ull << 55) - 1;

// Whether two pagemap entries are the same physical page: both present,
// with one known (non-zero) frame number.
inline bool same_frame(uint64_t a, uint64_t b) {
  return (a & kPagemapPresent) && (b & kPagemapPresent) && (a & kPagemapFrameMask) != 0 &&
         (a & kPagemapFrameMask) == (b & kPagemapFrameMask);
}

// Whether a present page shows no frame number (the reader is not root).
inline bool frame_hidden(uint64_t e) { return (e & kPagemapPresent) && (e & kPagemapFrameMask) == 0; }

class PageFrames {
 public:
  // Opens /proc/PID/pagemap; throws naming the pid.
  PageFrames(pid_t pid, uint64_t page_size);
  // The entries of the pages [start, end) (page aligned) into `out`,
  // resized to one per page, in one pread.
  void read(uint64_t start, uint64_t end, std::vector<uint64_t>& out) const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
  uint64_t page_size_;
  UniqueFd fd_;
};

}  // namespace ckpt::mem
