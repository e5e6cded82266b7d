// Namespaces: ckpt restores a tree into its own namespaces, so a tree that
// lives in others (a container made with `unshare --pid --uts --ipc --net`)
// would come back without its hostname, network, mounts or pids.  Until
// namespaces are restored, such a tree is refused at dump.
#pragma once

#include <sys/types.h>

#include "dump/tree_view.h"

namespace ckpt::dump {

// Throws "pid N is in another uts namespace than ckpt: namespaces are not
// supported yet" (or "thread T of pid N ...", or "pid N has made a new pid
// namespace for its children ...") for the first live thread of the tree
// whose namespace of any kind (uts, ipc, net, pid, user, cgroup, time, mnt)
// is not ckpt's own, or whose pid_for_children / time_for_children is not.
// ckpt run inside the tree's namespaces (say both in one PID namespace)
// dumps it.
void refuse_other_namespaces(const TreeView& tree);

}  // namespace ckpt::dump
