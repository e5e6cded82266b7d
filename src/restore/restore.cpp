#include "commands.h"
#include "ckpt/error.h"

namespace ckpt {
int run_restore(const cli::Options&) { throw Error("restore is not implemented yet"); }
}  // namespace ckpt
