// One process of a frozen tree: read from outside, infect, ask from inside,
// cure, write its images.
#pragma once

#include "compel/compel.h"
#include "dump/context.h"

namespace ckpt::dump {

void dump_process(DumpContext& ctx, const compel::Process& process);

}  // namespace ckpt::dump
