#include "commands.h"
#include "ckpt/error.h"

namespace ckpt {
int run_show(const cli::Options&) { throw Error("show is not implemented yet"); }
}  // namespace ckpt
