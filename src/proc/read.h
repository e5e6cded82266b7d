// Reading /proc: the raw text and links the parsers work on.  Kept apart from
// the parsers so that those stay pure functions of their input.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ckpt::proc {

// "/proc/1234/maps"
std::string path(pid_t pid, const std::string& name);
// The whole content of a (proc) file; throws "cannot read PATH: REASON".
std::string read_file(const std::string& path);
// The target of a symbolic link; throws "cannot read link PATH: REASON".
std::string read_link(const std::string& path);
// The fd numbers open in a process, ascending (/proc/PID/fd).
std::vector<int> list_fds(pid_t pid);
// The thread ids of a process, ascending (/proc/PID/task).
std::vector<pid_t> list_threads(pid_t pid);

}  // namespace ckpt::proc
