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
  uint64_t vdso_proxy_off, vdso_proxy_size;  // size 0: no proxy
  uint32_t nr_vmas, nr_runs, nr_pending, nr_timers;
  uint64_t total;
};

ArgsSizes args_sizes(const ArgsInputs& in);
void fill_args(const ArgsInputs& in, const RestorerArea& area, const ArgsSizes& sizes);

// Whether the target reaches this kernel's vDSO through a proxy at the
// dumped one (see vdso_proxy.h): the vDSO differs, or the tuning says so.
bool needs_vdso_proxy(const ArgsInputs& in);

// The areas the blob maps: all but the dumped vDSO parts, which are this
// kernel's moved there, or with a proxy, anonymous stand-ins.
std::vector<ckpt_restorer_vma> blob_vmas(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, bool vdso_proxy = false);

}  // namespace ckpt::restore
