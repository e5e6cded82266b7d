// The process tree as a whole: what this version can dump, and pstree.img.
#pragma once

#include <map>

#include "compel/compel.h"
#include "dump/pending_images.h"
#include "dump/tree_view.h"
#include "files/files.h"
#include "pstree.pb.h"

namespace ckpt::dump {

// Throws, naming the process, for a tree this version cannot dump: a
// process with more than one thread, a zombie root, a child in a session or
// process group restore could not give it again (neither the root's nor led
// by a process of the tree).
void check_supported(const TreeView& tree);

// The pstree record of one process; a zombie's carries its exit status and
// exit signal from /proc/PID/stat.
img::PstreeEntry make_pstree_entry(const compel::Process& p, pid_t root);

// The pids and the tids of the other threads of the tree, for fds on their
// /proc entries.
files::TreeTasks tree_tasks(const compel::FrozenTree& tree);

// pid -> parent pid of every process of the tree.
std::map<pid_t, pid_t> parents_of(const compel::FrozenTree& tree);

// pstree.img: every process, parents first, zombies included.
void write_pstree(PendingImages& images, const compel::FrozenTree& tree, pid_t root);

}  // namespace ckpt::dump
