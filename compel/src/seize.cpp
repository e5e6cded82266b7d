// Seizing a tree: PTRACE_SEIZE + PTRACE_INTERRUPT of every thread of every
// process under the root, walking /proc/PID/task/TID/children, repeated per
// process until no new thread shows up (threads clone while being seized).
// A process whose threads are all stopped cannot fork any more, so its
// children listed afterwards are complete.
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
      if (proc::tasks(pid).size() > 1)
        throw Error("cannot seize pid " + pid_str(pid) +
                    ": its main thread has exited while other threads still run (not supported)");
      if (wait) tree_.processes.push_back(Process{pid, st->ppid, st->pgid, st->sid, TaskState::Zombie, {}});
      return;
    }
    seize_threads(pid, st->ppid == ::getpid(), wait);
    if (wait) record(pid, *st);
  }

  void seize_threads(pid_t pid, bool own_child, bool wait) {
    for (;;) {
      bool found_new = false;
      for (pid_t tid : proc::tasks(pid))
        if (!tree_.threads.count(tid) && seize_thread(pid, tid, own_child && tid == pid)) found_new = true;
      if (!wait) return;
      for (auto& [tid, t] : tree_.threads)
        if (t.pid == pid && !t.stopped) tree_.wait_seized(t);
      if (!found_new) return;
    }
  }

  // False if the thread is gone.
  bool seize_thread(pid_t pid, pid_t tid, bool own_child) {
    long r = detail::pt_try(PTRACE_SEIZE, tid, 0, 0);
    if (r == -ESRCH) return false;
    if (r == -EPERM) {
      if (proc::is_dead(tid)) return false;  // exiting: ptrace refuses zombies
      auto status = proc::status(tid);
      std::string who = tid == pid ? "pid " + pid_str(pid) : "thread " + pid_str(tid) + " of pid " + pid_str(pid);
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
    t.tid = tid;
    t.pid = pid;
    t.own_child = own_child;
    // ESRCH: it died right after the seize; its wait reports the exit.
    detail::pt_try(PTRACE_INTERRUPT, tid, 0, 0);
    return true;
  }

  void record(pid_t pid, const proc::Stat& st) {
    Process p{pid, st.ppid, st.pgid, st.sid, TaskState::Running, {}};
    bool leader_alive = false;
    for (auto& [tid, t] : tree_.threads) {
      if (t.pid != pid || t.dead) continue;
      if (t.state == TaskState::Stopped) p.state = TaskState::Stopped;
      if (tid == pid) leader_alive = true;
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
    if (!leader_alive)
      throw Error("cannot seize pid " + pid_str(pid) +
                  ": its main thread has exited while other threads still run (not supported)");
    std::stable_partition(p.threads.begin(), p.threads.end(), [&](const Thread& t) { return t.tid == pid; });
    // A group stop covers every thread, even those that stopped for the
    // interrupt before it began.
    for (Thread& t : p.threads) {
      t.state = p.state;
      tree_.threads[t.tid].state = p.state;
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
  for (;;) {
    auto r = detail::wait_report(t.tid, t.own_child, deadline());
    if (!r)
      throw Error("cannot freeze thread " + pid_str(t.tid) + " of pid " + pid_str(t.pid) + ": it did not stop within " +
                  std::to_string(opts.timeout_ms) + " ms (uninterruptible sleep, or a vfork parent?)");
    switch (r->kind) {
      case detail::Report::Exited:
        t.dead = t.stopped = true;
        return;
      case detail::Report::EventStop:
        t.stopped = true;
        t.state = r->sig == SIGTRAP ? TaskState::Running : TaskState::Stopped;
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
