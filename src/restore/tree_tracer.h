// ckpt's side of a whole restored tree: every task is traced (the root by
// PTRACE_SEIZE, the other processes and threads from birth through
// PTRACE_O_TRACEFORK and TRACECLONE), each thread is followed to its final
// rt_sigreturn and held there, stopped; once every thread of a process is
// held, its restorer area is removed.  Only when every task is held and every zombie has
// ended are they all let go, children before parents: no task runs target
// code while another is half-made (a parent's wait4 never meets a child
// that is still being restored).
//
// A tree that was not released is killed: every task that is ours (seen, or
// traced by us) gets SIGKILL and ckpt, a child subreaper for the duration,
// reaps until it has no child left, so that a failed restore leaves no
// process and no zombie behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "restore/tracer.h"

namespace ckpt::restore {

class TreeTracer {
 public:
  using Clock = std::chrono::steady_clock;

  TreeTracer() = default;
  TreeTracer(const TreeTracer&) = delete;
  TreeTracer& operator=(const TreeTracer&) = delete;
  ~TreeTracer();  // kills and reaps the tree unless released

  // Every task of the tree, processes in creation order (the root first),
  // each process's main thread before its other threads.
  TracedTask& add(pid_t tid, pid_t tgid, const RestorerArea* area, int zombie_status = 0);
  TracedTask& root() { return *tasks_.front(); }
  // PR_SET_DUMPABLE for process `tgid` (0 or 1), set from one of its held
  // threads once all are held: dumpable belongs to the whole mm, and the
  // kernel resets it whenever any thread's uid changes, which the blob's
  // threads do one by one.
  void set_dumpable(pid_t tgid, int dumpable) { dumpable_[tgid] = dumpable; }

  // Handles every task's stops until all are finished.  Throws the most
  // telling error of the tasks that died (a task's own message rather than
  // the SIGKILL its parent's death gave its children).
  void run(Clock::time_point deadline);
  // Detaches every live task, children before parents; `stopped(pid)` says
  // whether a process was dumped stopped (it is detached with SIGSTOP).
  // Main threads that exit again go first, and are zombies before any
  // other task runs: the process finds its leader as it left it.
  template <typename Stopped>
  void release(Stopped stopped) {
    release_exiting();
    for (auto it = tasks_.rbegin(); it != tasks_.rend(); ++it)
      if (!(*it)->zombie() && !(*it)->detached()) (*it)->detach(stopped((*it)->tgid()));
    released_ = true;
  }

 private:
  void release_exiting();
  // Removes the area of `tgid` once all its threads are held.
  void finish_process_if_held(pid_t tgid);
  TracedTask* find(pid_t pid);
  bool all_finished() const;
  void kill_all();

  std::vector<std::unique_ptr<TracedTask>> tasks_;
  std::map<pid_t, int> dumpable_;
  bool released_ = false;
};

}  // namespace ckpt::restore
