// Kernel features the restored areas need, checked before any task exists:
// MAP_DROPPABLE areas (Linux 6.11), guard pages (Linux 6.13) and sealed
// areas (mseal, Linux 6.10), and the advice it replays that a kernel may
// lack (MADV_MERGEABLE without KSM, MADV_HUGEPAGE without THP).
#pragma once

#include "restore/process_image.h"

namespace ckpt::restore {

// Throws "cannot restore pid P: its area START-END is MAP_DROPPABLE, which
// this kernel refuses (...)" (or its guard pages) when this kernel cannot
// make what the process's areas have.
void check_area_features(const ProcessImage& p);

}  // namespace ckpt::restore
