// `ckpt check -t PID [dump options]`: the dump's pre-flight on a running
// tree, read from /proc and the kernel's socket diagnostics only: nothing
// is seized, traced or stopped.  Prints every blocker, one line each, and
// exits 0 when the tree can be dumped with these options, 1 otherwise.
#pragma once

#include "cli/options.h"

namespace ckpt::check {

int check_tree(const cli::Options& opts);

}  // namespace ckpt::check
