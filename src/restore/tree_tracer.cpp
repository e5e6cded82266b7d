#include "restore/tree_tracer.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/restorer_args.h"
#include "proc/read.h"
#include "proc/stat.h"

namespace ckpt::restore {

namespace {

// Sleeps until SIGCHLD (blocked by the caller) or `limit` passes.
void wait_chld(std::chrono::nanoseconds limit) {
  if (limit <= std::chrono::nanoseconds::zero()) return;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  auto ns = limit.count();
  timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
  sigtimedwait(&chld, nullptr, &ts);
}

// How telling a task's end is: its own message (ckpt's code or the blob
// gave up) beats a signal, which beats the SIGKILL a task gets when its
// parent dies before it.
int rank_of(int status) {
  if (WIFEXITED(status) &&
      (WEXITSTATUS(status) == CKPT_RESTORER_EXIT_CHILD_FAILED || WEXITSTATUS(status) == CKPT_RESTORER_EXIT_FAILED))
    return 0;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return 2;
  return 1;
}

pid_t tracer_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("TracerPid:", 0) == 0) return pid_t(std::atoi(line.c_str() + 10));
  return 0;
}

}  // namespace

TracedTask& TreeTracer::add(pid_t tid, pid_t tgid, const RestorerArea* area, int zombie_status) {
  tasks_.push_back(std::make_unique<TracedTask>(tid, tgid, area, zombie_status));
  return *tasks_.back();
}

// Every thread has left the area (each sits at the exit of its
// rt_sigreturn, or in its exit): the area goes, through one that lives on.
void TreeTracer::finish_process_if_held(pid_t tgid) {
  TracedTask* runner = nullptr;
  for (auto& t : tasks_) {
    if (t->tgid() != tgid || t->zombie()) continue;
    if (!t->held()) return;
    if (!runner && !t->exiting()) runner = t.get();
  }
  if (!runner) throw Error(format("cannot restore pid %d: none of its threads lives on", tgid));
  // (Before the area goes: the remote calls run its syscall instruction.)
  if (auto d = dumpable_.find(tgid); d != dumpable_.end()) {
    long r = runner->remote_syscall(SYS_prctl, PR_SET_DUMPABLE, uint64_t(d->second));
    if (r < 0)
      throw Error(format("cannot restore pid %d: prctl(PR_SET_DUMPABLE, %d) failed: %s", tgid, d->second,
                         std::strerror(int(-r))));
  }
  runner->remove_area();
  for (auto& t : tasks_)
    if (t->tgid() == tgid) t->mark_finished();
  LOG_DEBUG("pid %d: every thread in place, restorer removed", tgid);
}

// Threads at the blob's int3 go on, the main thread last: after its trap
// it sets SIGTRAP's action and queues the process's pending SIGTRAP, which
// no later trap of another thread may reset or swallow.  Once every thread
// is held, the area goes.
void TreeTracer::advance(pid_t tgid, Clock::time_point deadline) {
  TracedTask* main = nullptr;
  bool others_held = true;
  for (auto& t : tasks_) {
    if (t->tgid() != tgid || t->zombie()) continue;
    if (t->pid() == tgid) {
      main = t.get();
      continue;
    }
    if (t->at_trap()) t->leave_trap(deadline);
    if (!t->held()) others_held = false;
  }
  if (!main || main->finished()) return;
  if (main->at_trap() && others_held) main->leave_trap(deadline);
  finish_process_if_held(tgid);
}

TracedTask* TreeTracer::find(pid_t pid) {
  for (auto& t : tasks_)
    if (t->pid() == pid) return t.get();
  return nullptr;
}

bool TreeTracer::all_finished() const {
  for (const auto& t : tasks_)
    if (!t->finished()) return false;
  return true;
}

void TreeTracer::run(Clock::time_point deadline) {
  struct Failure {
    int rank;
    std::string message;
  };
  std::optional<Failure> failure;
  Clock::time_point grace_end;
  while (!all_finished() || failure) {
    int status;
    pid_t r = waitpid(-1, &status, __WALL | WNOHANG);
    if (r > 0) {
      TracedTask* t = find(r);
      if (!t) {
        if (WIFSTOPPED(status)) throw Error(format("an unknown task %d stopped under ckpt's tracing", r));
        continue;  // not ours (and now reaped)
      }
      if (failure) {
        // Collecting the other ends; the tasks still alive stay stopped
        // until they are killed.
        if (!WIFSTOPPED(status) && rank_of(status) < failure->rank) {
          try {
            t->on_status(status);
          } catch (const Error& e) {
            failure = Failure{rank_of(status), e.what()};
          }
        }
        continue;
      }
      try {
        t->on_status(status);
        if (t->at_trap() && !trap_seen_) {
          trap_seen_ = true;
          kill_point(kill_point_, KillPoint::FirstTrap);
        }
        if (!t->zombie()) advance(t->tgid(), deadline);
      } catch (const Error& e) {
        failure = Failure{WIFSTOPPED(status) ? 1 : rank_of(status), e.what()};
        grace_end = Clock::now() + std::chrono::milliseconds(300);
      }
      continue;
    }
    if (r < 0 && errno == ECHILD && !failure) throw Error("every restored task is gone");
    if (r < 0 && errno != ECHILD && errno != EINTR) throw sys_error("cannot wait for the restored tasks");
    auto now = Clock::now();
    if (failure && (now >= grace_end || failure->rank == 0)) throw Error(failure->message);
    if (now >= deadline) {
      std::string waiting;
      for (const auto& t : tasks_)
        if (!t->finished()) waiting += format(" %d", t->pid());
      throw Error("restore timed out waiting for pid" + waiting);
    }
    Clock::duration wait = std::min(failure ? grace_end : deadline, deadline) - now;
    if (idle_) {
      idle_();
      wait = std::min<Clock::duration>(wait, std::chrono::milliseconds(100));
    }
    wait_chld(wait);
  }
}

void TreeTracer::kill_all() {
  pid_t me = getpid();
  // (A task held at its exit event is let go so that it dies.)
  for (const auto& t : tasks_)
    if (t->seen() || tracer_of(t->pid()) == me) {
      kill(t->pid(), SIGKILL);
      ptrace(PTRACE_CONT, t->pid(), 0, 0);
    }
  // Orphans of the killed tasks come to ckpt (a subreaper meanwhile):
  // reap until there is no child and no tracee left.  A task created while
  // its parent was being killed is born traced, and is killed when seen.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    int status;
    pid_t r = waitpid(-1, &status, __WALL | WNOHANG);
    if (r > 0) {
      if (WIFSTOPPED(status)) kill(r, SIGKILL);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;  // ECHILD: nothing left
    auto now = Clock::now();
    if (now >= deadline) {
      LOG_WARN("some restored tasks could not be reaped");
      break;
    }
    wait_chld(std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(100)));
  }
}

// Detached at its exit event, the thread finishes exiting on its own; the
// others stay stopped meanwhile.  Nothing can be waited for (a leader with
// live threads is not reported), so its state is watched, bounded.
void TreeTracer::release_exiting() {
  for (auto& t : tasks_) {
    if (!t->exiting()) continue;
    t->detach();
    std::string stat_path = format("/proc/%d/task/%d/stat", t->tgid(), t->pid());
    auto deadline = Clock::now() + std::chrono::seconds(2);
    for (;;) {
      char state;
      try {
        state = proc::parse_stat(proc::read_file(stat_path), stat_path).state;
      } catch (const std::exception&) {
        break;  // gone with its process
      }
      if (state == 'Z') break;
      if (Clock::now() >= deadline) {
        LOG_WARN("thread %d of pid %d is still exiting", t->pid(), t->tgid());
        break;
      }
      sched_yield();
    }
  }
}

// The threads detached after the first take their part in the stop when
// they run; restore returns only then, so that a SIGCONT sent right after
// it finds the process stopped.
void TreeTracer::await_stopped(pid_t pid) {
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    bool all = true;
    for (const auto& t : tasks_) {
      if (t->tgid() != pid || t->zombie()) continue;
      std::string path = format("/proc/%d/task/%d/stat", pid, t->pid());
      try {
        char state = proc::parse_stat(proc::read_file(path), path).state;
        if (state != 'T' && state != 'Z' && state != 'X') all = false;
      } catch (const std::exception&) {
        // gone (a thread that exited again)
      }
    }
    if (all) return;
    if (Clock::now() >= deadline) {
      LOG_WARN("pid %d: not every thread has stopped yet", pid);
      return;
    }
    sched_yield();
  }
}

TreeTracer::~TreeTracer() {
  if (!released_) kill_all();
}

}  // namespace ckpt::restore
