// Tests only: CKPT_DUMP_TEST_KILL=POINT makes `ckpt dump` kill itself with
// SIGKILL when it reaches that point, as an OOM kill or a closed terminal
// would, so a test can check what each moment of a dump leaves behind.
//
//   after-freeze   the tree seized and checked, nothing read yet
//   after-infect   the first process infected (the parasite is in it)
//   after-pages    the first process's pages written, still infected
//   before-commit  every image written and synced under its .tmp name
//   in-commit      the old inventory removed, the pages renamed into place,
//                  the other images not yet (a mix of old and new)
//   after-commit   the new image set complete, before the tree is killed
//   in-kill        every process of the tree sent its SIGKILL, their exits
//                  not yet collected (the tree is dying; not reached with
//                  --leave-running or --leave-stopped)
//
// The variable is read once, when the dump starts; an unknown point is an
// error then, not silently ignored.
#pragma once

namespace ckpt::dump {

enum class KillPoint { None, AfterFreeze, AfterInfect, AfterPages, BeforeCommit, InCommit, AfterCommit, InKill };

// Reads CKPT_DUMP_TEST_KILL; throws on a name not in the list above.
void read_kill_point();
// SIGKILLs ckpt itself if `point` is the one asked for.
void kill_point(KillPoint point);

}  // namespace ckpt::dump
