// The fds of a process: each one's file description stolen through the
// parasite, handed to the file table (files.img), listed in fdinfo-<pid>.img.
#pragma once

#include <sys/types.h>

#include <vector>

#include "compel/compel.h"
#include "dump/context.h"

namespace ckpt::dump {

// `fds` of `pid` are read in /proc as `proc_id` (see ProcessSnapshot);
// `fds` were listed before infection, so the parasite's own socket is not
// among them.  Returns how many fds were dumped.
size_t dump_fds(DumpContext& ctx, compel::Infection& infection, pid_t pid, pid_t proc_id, const std::vector<int>& fds);

}  // namespace ckpt::dump
