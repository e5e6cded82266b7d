// Tests only: CKPT_RESTORE_TEST_KILL=POINT makes `ckpt restore` kill itself
// with SIGKILL when it reaches that point, as an OOM kill or a closed
// terminal would, so a test can check that a restore killed at any moment
// leaves no process of the tree behind.
//
//   after-fork      the root exists with its pid, waiting for ckpt's go
//   after-go        the root let go: the tree, its files and memory being made
//   first-trap      the first thread at the blob's final trap: the memory and
//                   state of its process restored
//   all-held        every task held at the exit of its final rt_sigreturn,
//                   the restorer areas removed
//   before-release  the scheduling, the /proc knobs, the shared memory and
//                   the pidfile done; no task let go
//   in-release      the first task let go, the others still held
//
// Read once, with the other knobs (tuning.h); an unknown point is an error
// then, not silently ignored.
#pragma once

namespace ckpt::restore {

enum class KillPoint { None, AfterFork, AfterGo, FirstTrap, AllHeld, BeforeRelease, InRelease };

// The point of that name; throws on a name not in the list above.
KillPoint parse_kill_point(const char* name);
// SIGKILLs ckpt itself if `here` is the point `asked` for.
void kill_point(KillPoint asked, KillPoint here);

}  // namespace ckpt::restore
