// ckpt's side of a whole restored tree: every task is traced (the root by
// PTRACE_SEIZE, the other processes and threads from birth through
// PTRACE_O_TRACEFORK and TRACECLONE), each thread is followed to its final
// rt_sigreturn and held there, stopped (the main thread's trap is let go
// last in its process); once every thread of a process is
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

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "restore/kill_point.h"
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
  // CKPT_RESTORE_TEST_KILL: the points inside run() and release() (first-trap, in-release).
  void set_kill_point(KillPoint point) { kill_point_ = point; }
  // Called while run() waits, at least every 100 ms (the progress line).
  void set_idle(std::function<void()> idle) { idle_ = std::move(idle); }

  // Handles every task's stops until all are finished.  Throws the most
  // telling error of the tasks that died (a task's own message rather than
  // the SIGKILL its parent's death gave its children).
  void run(Clock::time_point deadline);
  // Detaches every live task, children before parents; `stop_signal(pid)`
  // is the signal of the group stop a process was dumped in (0: it ran):
  // such a process is put back into its stop first (detach_into_stop), and
  // release returns once all its threads are stopped.  Main threads that
  // exit again go first, and are zombies before any other task runs: the
  // process finds its leader as it left it.
  template <typename StopSignal>
  void release(StopSignal stop_signal) {
    release_exiting();
    std::vector<pid_t> stopped;
    for (auto it = tasks_.rbegin(); it != tasks_.rend(); ++it) {
      TracedTask& t = **it;
      if (t.zombie() || t.detached()) continue;
      int sig = stop_signal(t.tgid());
      if (sig && std::find(stopped.begin(), stopped.end(), t.tgid()) == stopped.end()) {
        t.detach_into_stop(sig);
        stopped.push_back(t.tgid());
      } else {
        t.detach();
      }
      kill_point(kill_point_, KillPoint::InRelease);
    }
    released_ = true;
    for (pid_t pid : stopped) await_stopped(pid);
  }

 private:
  void release_exiting();
  // Waits (bounded) until every thread of pid is in its group stop.
  void await_stopped(pid_t pid);
  // Lets the threads of `tgid` go on from the blob's int3 (the main thread
  // last) and removes its area once all are held.
  void advance(pid_t tgid, Clock::time_point deadline);
  // Removes the area of `tgid` once all its threads are held.
  void finish_process_if_held(pid_t tgid);
  TracedTask* find(pid_t pid);
  bool all_finished() const;
  void kill_all();

  std::vector<std::unique_ptr<TracedTask>> tasks_;
  std::map<pid_t, int> dumpable_;
  bool released_ = false;
  KillPoint kill_point_ = KillPoint::None;
  std::function<void()> idle_;
  bool trap_seen_ = false;  // for the first-trap kill point
};

}  // namespace ckpt::restore
