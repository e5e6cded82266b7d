// The autogroup (/proc/PID/autogroup, "/autogroup-ID nice N"): the group
// the CFS scheduler puts a session's tasks in, with a nice value of its
// own.  setsid(2) makes the caller a new one; a forked task joins its
// parent's.  So every process of a session shares the autogroup its leader
// made (or had, if the leader is gone), and its nice value is the
// session's, not the process's.
//
//   dump     each process's autogroup nice value
//   restore  a process ckpt restores as a session leader (setsid) made a new
//            autogroup, which the rest of its session joined when they were
//            forked: ckpt writes the nice value there, from outside, once
//            the tree is held.  Then every process is checked: one
//            restored into ckpt's session (a root that did not lead its
//            session, and its session's processes) shares ckpt's autogroup, whose
//            nice value ckpt does not change; if it differs from the dumped
//            one the restore fails naming the process and both values.
#pragma once

#include <sys/types.h>

#include <optional>

namespace ckpt::task {

// nullopt: the kernel has no autogroups (CONFIG_SCHED_AUTOGROUP off), or
// the process is in the default one (which shows no line).
std::optional<int> read_autogroup_nice(pid_t pid);

// For a process that made its own session: sets its autogroup's nice value.
void apply_autogroup_nice(pid_t pid, int nice);

// For every process: throws "cannot restore pid P: ..." if its autogroup's
// nice value is not the dumped one.  own_session: it was restored as its
// session's leader or into such a session (else it is in ckpt's).
void check_autogroup_nice(pid_t pid, int want, bool own_session);

}  // namespace ckpt::task
