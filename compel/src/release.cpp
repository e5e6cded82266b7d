// Letting a tree go: cure live infections, then detach every thread (the
// kernel puts a thread of a group-stopped process back into the stop), or
// kill the tree.  Dead threads are reaped so that their real parent sees
// them exit.
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <algorithm>

#include "ckpt/syscall_restart.h"
#include "infect.h"
#include "proc.h"
#include "regs.h"
#include "tree.h"

namespace compel {

using detail::ThreadRecord;

FrozenTree::FrozenTree(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrozenTree::FrozenTree(FrozenTree&&) noexcept = default;
FrozenTree& FrozenTree::operator=(FrozenTree&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->release_all();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
FrozenTree::~FrozenTree() {
  if (impl_) impl_->release_all();
}

const std::vector<Process>& FrozenTree::processes() const { return impl_->processes; }

const Process& FrozenTree::process(pid_t pid) const {
  if (Process* p = impl_->find_process(pid)) return *p;
  throw Error("pid " + std::to_string(pid) + " is not part of the frozen tree");
}

Process* FrozenTree::Impl::find_process(pid_t pid) {
  for (Process& p : processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

ThreadRecord& FrozenTree::Impl::thread(pid_t tid) {
  auto it = threads.find(tid);
  if (it == threads.end() || finished)
    throw Error("thread " + std::to_string(tid) + " is not part of the frozen tree");
  return it->second;
}

ThreadRecord& FrozenTree::Impl::live_thread(pid_t tid, const std::string& during) {
  ThreadRecord& t = thread(tid);
  if (t.state == TaskState::Zombie)
    throw Error("thread " + std::to_string(tid) + " of pid " + std::to_string(t.pid) +
                " has exited: it is the main thread of a process whose other threads run on (" + during + ")");
  if (t.dead) detail::throw_died(tid, during);
  return t;
}

void FrozenTree::release() { impl_->release_all(); }

namespace {

// How long a thread that has not stopped yet (one stuck in vfork(2), say)
// may take to stop before it can be detached: the kernel only detaches
// stopped tracees, so giving up leaves it traced until compel exits.
constexpr int kReleaseGraceMs = 5000;

// Collects the exit of a dead traced thread, for a short while: a leader is
// only reported once its other threads are reaped.  A leader whose other
// threads live on is not reported at all: it stays a zombie linked to
// compel as its tracer (the kernel cannot detach a zombie) until the last
// thread exits, then compel's wait or compel's exit hands it to its parent.
void reap(ThreadRecord& t, detail::Deadline deadline) {
  if (!t.traced || t.reaped) return;
  if (t.tid == t.pid && proc::tasks(t.pid).size() > 1) return;
  detail::Backoff backoff;
  while (!deadline.passed()) {
    auto r = detail::poll_report(t.tid, t.own_child);
    if (r && r->kind == detail::Report::Exited) {
      t.reaped = r->reaped;
      return;
    }
    backoff.pause();
  }
}

// The order to let threads go: live ones first, then the dead ones, each
// process's leader last so its exit can be reported.
std::vector<ThreadRecord*> release_order(std::map<pid_t, ThreadRecord>& threads) {
  std::vector<ThreadRecord*> out;
  for (auto& [tid, t] : threads) out.push_back(&t);
  auto rank = [](const ThreadRecord* t) { return (t->dead ? 2 : 0) + (t->tid == t->pid ? 1 : 0); };
  std::stable_sort(out.begin(), out.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
  return out;
}

// The freeze's PTRACE_INTERRUPT ends a wait in epoll_wait or sigtimedwait
// with a plain EINTR, which the program never asked for: with no signal
// for it to take, the thread goes back into its wait instead.  Best effort:
// a thread that cannot be read is let go as it is.
void restart_wait_ended_by_freeze(pid_t tid) {
  try {
    user_regs_struct regs;
    detail::get_gp(tid, regs);
    // Most threads are in no such wait: the registers alone say so.
    if (!ckpt_eintr_of_the_freeze(int64_t(regs.orig_rax), int64_t(regs.rax), 0)) return;
    std::optional<uint64_t> pending = proc::pending_signals(tid);
    if (!pending) return;
    uint64_t deliverable = *pending & ~detail::get_sigmask(tid);
    if (!ckpt_eintr_of_the_freeze(int64_t(regs.orig_rax), int64_t(regs.rax), deliverable)) return;
    regs.rax = regs.orig_rax;
    regs.rip -= 2;  // back onto "syscall"
    detail::set_gp(tid, regs);
  } catch (const Error&) {
  }
}

}  // namespace

void FrozenTree::Impl::release_thread(ThreadRecord& t) {
  if (!t.traced) return;
  uint64_t deliver = 0;
  if (!t.dead && (!t.stopped || t.running)) {
    // Not in a ptrace stop (never seen stopping, or left running injected
    // code after a failure): it has to stop before it can be detached.
    detail::pt_try(PTRACE_INTERRUPT, t.tid, 0, 0);
    auto r = detail::wait_report(t.tid, t.own_child, detail::Deadline::in_ms(kReleaseGraceMs));
    if (r && r->kind == detail::Report::Exited) {
      t.dead = true;
      t.reaped = r->reaped;
    }
    // A signal caught on its way in is handed back on detach.
    if (r && r->kind == detail::Report::SignalStop && !t.running) deliver = static_cast<uint64_t>(r->sig);
    t.stopped = true;
    t.running = false;
  }
  if (t.dead) {
    reap(t, detail::Deadline::in_ms(200));
    return;
  }
  if (!deliver) restart_wait_ended_by_freeze(t.tid);
  long r = detail::pt_try(PTRACE_DETACH, t.tid, 0, deliver);
  if (r == -ESRCH && proc::is_dead(t.tid)) {
    t.dead = true;
    reap(t, detail::Deadline::in_ms(200));
  }
}

void FrozenTree::Impl::cure_infections() noexcept {
  // cure() unregisters the infection from this list.
  while (!infections.empty()) infections.back()->cure_quietly();
}

void FrozenTree::Impl::release_all() noexcept {
  if (finished) return;
  cure_infections();
  for (ThreadRecord* t : release_order(threads)) {
    try {
      release_thread(*t);
    } catch (...) {
    }
  }
  finished = true;
}

void FrozenTree::kill(const std::function<void()>& signalled) {
  Impl& tree = *impl_;
  if (tree.finished) return;
  for (Infection::Impl* inf : tree.infections) inf->abandon();
  tree.infections.clear();
  for (const Process& p : tree.processes)
    if (p.state != TaskState::Zombie) ::kill(p.pid, SIGKILL);
  if (signalled) signalled();
  auto deadline = detail::Deadline::in_ms(std::min(tree.opts.timeout_ms, 5000));
  for (ThreadRecord* t : release_order(tree.threads)) {
    // Every thread of a killed process exits; non-leaders first, so that
    // each leader's exit can be reported once its threads are reaped.
    while (!t->dead) {
      auto r = detail::wait_report(t->tid, t->own_child, deadline);
      if (!r) break;
      if (r->kind == detail::Report::Exited) t->reaped = r->reaped;
      t->dead = r->kind == detail::Report::Exited;
    }
    t->dead = true;
    reap(*t, deadline);  // one only seen dying
  }
  tree.finished = true;
}

}  // namespace compel
