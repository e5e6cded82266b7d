// inventory.img: what an image set is; written last, so that its presence
// marks a complete dump.
#pragma once

#include <cstdint>

#include "inventory.pb.h"

namespace ckpt::dump {

img::InventoryEntry make_inventory(uint32_t root_pid, uint32_t page_size, bool shell_job, uint64_t dump_time_ns);

}  // namespace ckpt::dump
