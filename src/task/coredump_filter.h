// /proc/PID/coredump_filter: which kinds of memory a core dump of the
// process includes (the MMF_DUMP_* bits of its mm).  A forked task inherits
// its parent's, so a restored process would have ckpt's: ckpt writes the
// dumped value from outside once the process is held (the blob keeps the
// mm it was given) and reads it back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace ckpt::task {

// nullopt: the kernel has no such file (CONFIG_ELF_CORE off).
std::optional<uint32_t> read_coredump_filter(pid_t pid);

// Throws "cannot restore pid P: ..." if the write fails or does not hold.
void apply_coredump_filter(pid_t pid, uint32_t want);

}  // namespace ckpt::task
