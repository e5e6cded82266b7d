// Tests only: a named point of a command at which ckpt SIGKILLs itself, as
// an OOM kill or a closed terminal would (CKPT_DUMP_TEST_KILL,
// CKPT_RESTORE_TEST_KILL).  Each command keeps its own list of names; this
// is the parsing and the killing they share.
#pragma once

#include <initializer_list>

namespace ckpt {

// The 1-based position of `value` among `names`; throws naming `variable`
// and listing the names if it is none of them.
int parse_kill_point(const char* variable, const char* value, std::initializer_list<const char*> names);

// Logs the point, then SIGKILLs the process.
[[noreturn]] void kill_self_at(const char* variable, const char* name);

}  // namespace ckpt
