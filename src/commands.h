// The entry point of each command; each returns the process exit status.
#pragma once

#include "cli/options.h"

namespace ckpt {

int run_check(const cli::Options& opts);    // src/check/
int run_show(const cli::Options& opts);     // src/show/
int run_dump(const cli::Options& opts);     // src/dump/
int run_restore(const cli::Options& opts);  // src/restore/
int run_verify(const cli::Options& opts);   // src/verify/

}  // namespace ckpt
