// Filling struct ckpt_restorer_args and the arrays after it from the images:
// the translation from image records to what the blob executes.
#pragma once

#include <cstdint>
#include <vector>

#include "restore/layout.h"
#include "restore/restorer_area.h"

namespace ckpt::restore {

// Runs longer than this are split so that one AIO request stays bounded.
inline constexpr uint64_t kMaxIoBytes = 4 << 20;
inline constexpr uint32_t kAioBatch = 128;

struct ArgsSizes {
  uint64_t vmas_off, runs_off, pending_off, timers_off, frame_off;  // from the args
  uint32_t nr_vmas, nr_runs, nr_pending, nr_timers;
  uint64_t total;
};

ArgsSizes args_sizes(const ArgsInputs& in);
void fill_args(const ArgsInputs& in, const RestorerArea& area, const ArgsSizes& sizes);

// The areas the blob maps (all but the vDSO parts, which it moves instead).
std::vector<ckpt_restorer_vma> blob_vmas(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd);

}  // namespace ckpt::restore
