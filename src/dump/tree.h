// The process tree as a whole: what this version can dump, and pstree.img.
#pragma once

#include "compel/compel.h"
#include "dump/pending_images.h"

namespace ckpt::dump {

// Throws, naming the process, for a tree this version cannot dump: more
// than one process, more than one thread, a zombie.
void check_supported(const compel::FrozenTree& tree, pid_t root);

// pstree.img: every process, parents first.
void write_pstree(PendingImages& images, const compel::FrozenTree& tree, pid_t root);

}  // namespace ckpt::dump
