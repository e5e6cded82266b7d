#include "commands.h"
#include "ckpt/error.h"

namespace ckpt {
int run_dump(const cli::Options&) { throw Error("dump is not implemented yet"); }
}  // namespace ckpt
