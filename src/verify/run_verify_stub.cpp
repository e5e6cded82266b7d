// PLACEHOLDER, to be deleted when src/verify/ lands: it keeps the options
// branch linking while `ckpt verify` is dispatched but not built yet.
#include "ckpt/error.h"
#include "commands.h"

namespace ckpt {

int run_verify(const cli::Options&) { throw Error("verify is not built yet"); }

}  // namespace ckpt
