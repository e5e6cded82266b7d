#include "commands.h"
#include "ckpt/error.h"

namespace ckpt {
int run_check(const cli::Options&) { throw Error("check is not implemented yet"); }
}  // namespace ckpt
