// The CPU affinity of one thread (sched_setaffinity(2)): Linux keeps it per
// thread and root reads and sets it from outside, like the scheduling
// (task/sched.h), so it goes on at the same moment: by ckpt, on each held
// thread, just before the tree is let go (after its cgroups, whose cpuset
// narrows what a thread may be given).
//
// On another machine the saved set may name CPUs this one lacks or does not
// let the thread use.  The thread then gets those of its CPUs it can have,
// with a warning naming the CPUs left out, unless it could run on every
// CPU it can have here anyway (an unpinned thread: nothing to say); if none
// of its CPUs is left, the restore fails naming the thread and its CPUs
// rather than let it run anywhere.
#pragma once

#include <sys/types.h>

#include <string>

namespace ckpt::task {

// The mask as the kernel gives it (CPU n: bit n%8 of byte n/8); throws
// naming the thread.
std::string read_affinity(pid_t pid, pid_t tid);

// Sets it on the held thread, as described above.
void apply_affinity(pid_t pid, pid_t tid, const std::string& mask);

// "0-1,5" for messages.
std::string cpu_list(const std::string& mask);

}  // namespace ckpt::task
