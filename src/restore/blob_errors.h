// Turning what a dead restore task left in the area's status into one
// sentence: "restore of pid 1234 failed in the restorer: mmap of area
// 0x7f00-0x7f10 failed: -12 (Cannot allocate memory)".
#pragma once

#include <string>

#include "ckpt/restorer_args.h"

namespace ckpt::restore {

// What the blob was doing when it gave up ("mmap of area 0x...-0x...").
std::string describe_step(const ckpt_restorer_status& st);

// Why the task died: the child's own message, the blob's failed step, or the
// signal that killed it and in which phase.
std::string describe_task_death(int pid, int wait_status, const ckpt_restorer_args& a);

}  // namespace ckpt::restore
