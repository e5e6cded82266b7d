// Seizing a tree: PTRACE_SEIZE + PTRACE_INTERRUPT of every thread of every
// process under the root, walking /proc/PID/task/TID/children, repeated per
// process until no new thread shows up (threads clone and exit while being
// seized).  A process whose threads are all stopped cannot fork any more, so
// its children listed afterwards are complete.  A process whose main thread
// has exited lives in its other threads: they are seized, the leader is
// only recorded (a zombie thread, first in Process::threads).
#include <signal.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>

#include "freezer.h"
#include "proc.h"
#include "tree.h"

namespace compel {

using detail::ThreadRecord;

namespace {

std::string pid_str(pid_t pid) { return std::to_string(pid); }

// How long a seized thread seen dying may take to report its exit (a thread
// stuck on its way out, behind a core dump say, is left as it is).
constexpr int kExitReportMs = 1000;

class Walker {
 public:
  Walker(FrozenTree::Impl& tree, pid_t root) : tree_(tree), root_(root) {}

  // Seizes every task of the tree.  With wait=false threads are only
  // seized and interrupted: under a frozen cgroup they cannot stop yet, and
  // the final walk (wait=true) collects their stops and builds the records.
  void walk(bool wait) {
    std::deque<pid_t> todo{root_};
    std::set<pid_t> visited;
    while (!todo.empty()) {
      pid_t pid = todo.front();
      todo.pop_front();
      if (!visited.insert(pid).second) continue;
      visit(pid, wait);
      for (pid_t tid : proc::tasks(pid))
        for (pid_t child : proc::children(pid, tid)) todo.push_back(child);
    }
  }

 private:
  void visit(pid_t pid, bool wait) {
    if (pid == ::getpid())
      throw Error("cannot seize the tree under pid " + pid_str(root_) + ": it contains the dumper itself");
    auto st = proc::stat(pid, pid);
    if (!st) {
      if (pid == root_) throw Error("cannot seize pid " + pid_str(pid) + ": no such process");
      return;  // exited meanwhile: no longer part of the tree
    }
    if (st->state == 'Z' || st->state == 'X') {
      if (proc::tasks(pid).size() <= 1) {
        if (wait) tree_.processes.push_back(Process{pid, st->ppid, st->pgid, st->sid, TaskState::Zombie, {}});
        return;
      }
      // The main thread has exited (pthread_exit) while other threads run
      // on: the process lives in them.  The leader cannot be seized (ptrace
      // refuses zombies) and is only recorded.
      dead_leader(pid);
    }
    seize_threads(pid, st->ppid == ::getpid(), wait);
    if (wait) record(pid, *st);
  }

  // The record of an exited main thread: never seized, nothing to undo.
  ThreadRecord& dead_leader(pid_t pid) {
    auto [it, added] = tree_.threads.try_emplace(pid);
    ThreadRecord& t = it->second;
    if (added) {
      t.tid = t.pid = pid;
      t.traced = false;
      t.stopped = t.reaped = true;
    }
    t.dead = true;
    t.state = TaskState::Zombie;
    return t;
  }

  // Seizes every thread of the process, listing /proc/PID/task again until
  // a listing shows nothing new once every thread seized so far has
  // stopped: a stopped thread cannot clone, so nothing can hide from that
  // last listing.  A listing taken while threads come and go may miss some
  // (a readdir of /proc/PID/task ends early when the thread it stands on
  // exits), so any tid not seen before, even one gone by the time it is
  // seized, means "list again"; and the last listing must count as many
  // threads as the process has.
  void seize_threads(pid_t pid, bool own_child, bool wait) {
    detail::Deadline deadline = tree_.deadline();
    for (;;) {
      std::vector<pid_t> listed = proc::tasks(pid);
      if (listed.empty()) return;  // gone
      bool changed = false;
      for (pid_t tid : listed) {
        if (known(tid)) continue;
        changed = true;
        seize_thread(pid, tid, own_child && tid == pid);
      }
      if (!wait) return;
      for (auto& [tid, t] : tree_.threads)
        if (t.pid == pid && !t.stopped) tree_.wait_seized(t);
      forget_reaped(pid);
      if (!changed) {
        long count = proc::thread_count(pid);
        if (count < 0 || count == static_cast<long>(listed.size())) return;
      }
      if (deadline.passed())
        throw Error("cannot freeze pid " + pid_str(pid) + ": its threads kept changing for " +
                    std::to_string(tree_.opts.timeout_ms) + " ms (listed " + std::to_string(listed.size()) +
                    ", the process counts " + std::to_string(proc::thread_count(pid)) + ")");
    }
  }

  // True if tid is a thread compel holds or has seen dead (a zombie stays
  // listed until its parent or tracer reaps it).  A dead one is collected
  // if it can be; listed alive again, the tid belongs to a new thread: the
  // old record is forgotten.
  bool known(pid_t tid) {
    auto it = tree_.threads.find(tid);
    if (it == tree_.threads.end()) return false;
    ThreadRecord& t = it->second;
    if (!t.dead) return true;
    if (t.traced && !t.reaped) {
      auto r = detail::poll_report(tid, t.own_child);
      if (r && r->kind == detail::Report::Exited) t.reaped = r->reaped;
    }
    if (proc::is_dead(tid)) return true;
    tree_.threads.erase(it);
    return false;
  }

  // A listed thread that could not be seized because it is exiting or gone.
  void seen_dead(pid_t pid, pid_t tid) {
    ThreadRecord& t = tree_.threads[tid];
    t = ThreadRecord{};
    t.tid = tid;
    t.pid = pid;
    t.traced = false;
    t.stopped = t.dead = t.reaped = true;
  }

  // Threads of pid that compel saw exit and has reaped (gone from /proc):
  // nothing to release, and their tids may come back as new threads.
  void forget_reaped(pid_t pid) {
    for (auto it = tree_.threads.begin(); it != tree_.threads.end();) {
      const ThreadRecord& t = it->second;
      if (t.pid == pid && t.tid != pid && t.traced && t.dead && t.reaped)
        it = tree_.threads.erase(it);
      else
        ++it;
    }
  }

  // False if the thread is gone or exiting.
  bool seize_thread(pid_t pid, pid_t tid, bool own_child) {
    long r = detail::pt_try(PTRACE_SEIZE, tid, 0, 0);
    if (r == -ESRCH || (r == -EPERM && proc::is_dead(tid))) {  // ptrace refuses zombies
      seen_dead(pid, tid);
      return false;
    }
    if (r == -EPERM) {
      auto status = proc::status(tid);
      std::string who = tid == pid ? "pid " + pid_str(pid) : "thread " + pid_str(tid) + " of pid " + pid_str(pid);
      if (status && status->tracer == ::getpid())
        throw Error("cannot seize " + who + ": it is already traced by this process (pid " + pid_str(::getpid()) +
                    "; frozen in another tree?)");
      if (status && status->tracer != 0)
        throw Error("cannot seize " + who + ": it is already traced by pid " + pid_str(status->tracer) +
                    " (a debugger?)");
      throw Error("cannot seize " + who +
                  ": ptrace is not permitted (the dumper lacks CAP_SYS_PTRACE over it, or it is not dumpable)");
    }
    if (r < 0)
      throw Error("cannot seize thread " + pid_str(tid) + " of pid " + pid_str(pid) + ": " +
                  detail::errno_text(static_cast<int>(-r)));
    ThreadRecord& t = tree_.threads[tid];
    t = ThreadRecord{};
    t.tid = tid;
    t.pid = pid;
    t.own_child = own_child;
    // ESRCH: it died right after the seize; its wait reports the exit.
    detail::pt_try(PTRACE_INTERRUPT, tid, 0, 0);
    return true;
  }

  void record(pid_t pid, const proc::Stat& st) {
    Process p{pid, st.ppid, st.pgid, st.sid, TaskState::Running, {}};
    for (auto& [tid, t] : tree_.threads) {
      if (t.pid != pid || !t.traced || t.dead) continue;
      if (t.state == TaskState::Stopped) {
        p.state = TaskState::Stopped;
        p.stop_signal = t.stop_signal;
      }
      p.threads.push_back(Thread{tid, t.state});
    }
    if (p.threads.empty()) {
      if (pid == root_) throw TaskDied("pid " + pid_str(pid) + " exited while being seized");
      // Exited meanwhile: a zombie of the tree now, unless already reaped.
      auto now = proc::stat(pid, pid);
      if (now && (now->state == 'Z' || now->state == 'X'))
        tree_.processes.push_back(Process{pid, now->ppid, now->pgid, now->sid, TaskState::Zombie, {}});
      return;
    }
    std::stable_partition(p.threads.begin(), p.threads.end(), [&](const Thread& t) { return t.tid == pid; });
    // A group stop covers every thread, even those that stopped for the
    // interrupt before it began.
    for (Thread& t : p.threads) {
      t.state = p.state;
      tree_.threads[t.tid].state = p.state;
    }
    // A main thread that has exited (before the seize, or while its
    // threads were being seized) stays first, as a zombie thread.
    if (p.threads[0].tid != pid) {
      dead_leader(pid);
      p.threads.insert(p.threads.begin(), Thread{pid, TaskState::Zombie});
    }
    tree_.processes.push_back(std::move(p));
  }

  FrozenTree::Impl& tree_;
  pid_t root_;
};

void check_root(pid_t root) {
  if (root <= 0) throw Error("cannot seize pid " + pid_str(root) + ": not a valid pid");
  auto status = proc::status(root);
  if (!status) throw Error("cannot seize pid " + pid_str(root) + ": no such process");
  if (status->tgid != root)
    throw Error("cannot seize pid " + pid_str(root) + ": it is a thread of process " + pid_str(status->tgid) +
                ", not a process");
}

}  // namespace

void FrozenTree::Impl::wait_seized(ThreadRecord& t) {
  detail::Deadline until = deadline();
  for (;;) {
    auto r = detail::wait_report(t.tid, t.own_child, until);
    if (!r && t.dead) return;  // seen dying, its exit still not reported
    if (!r)
      throw Error("cannot freeze thread " + pid_str(t.tid) + " of pid " + pid_str(t.pid) + ": it did not stop within " +
                  std::to_string(opts.timeout_ms) + " ms (uninterruptible sleep, or a vfork parent?)");
    switch (r->kind) {
      case detail::Report::Exited:
        t.dead = t.stopped = true;
        t.reaped = r->reaped;
        // Only seen dying: a thread other than the leader reports its exit
        // to compel, its tracer, in a moment; reaped now, it leaves
        // /proc/PID/task before the seize returns.  (A leader's exit waits
        // for its threads, and that of compel's own child is its parent's.)
        if (!t.reaped && t.tid != t.pid) {
          auto soon = detail::Deadline::in_ms(kExitReportMs);
          if (soon.at < until.at) until = soon;
          continue;
        }
        return;
      case detail::Report::EventStop:
        t.stopped = true;
        // (A group stop reports its signal; the interrupt alone, SIGTRAP.)
        t.state = r->sig == SIGTRAP ? TaskState::Running : TaskState::Stopped;
        if (t.state == TaskState::Stopped) t.stop_signal = r->sig;
        return;
      case detail::Report::SignalStop:
        // A signal was on its way in; deliver it as the kernel would have
        // (a stop signal turns into a group stop, reported next).
        detail::pt_try(PTRACE_CONT, t.tid, 0, static_cast<uint64_t>(r->sig));
        break;
    }
  }
}

FrozenTree FrozenTree::seize(pid_t root) { return seize(root, SeizeOptions{}); }

FrozenTree FrozenTree::seize(pid_t root, const SeizeOptions& opts) {
  check_root(root);
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  try {
    Walker walker(*impl, root);
    if (!opts.freezer_cgroup.empty()) {
      detail::Freezer freezer(opts.freezer_cgroup, impl->deadline());
      walker.walk(false);
      freezer.thaw();
    }
    walker.walk(true);
  } catch (...) {
    impl->release_all();
    throw;
  }
  return FrozenTree(std::move(impl));
}

}  // namespace compel
