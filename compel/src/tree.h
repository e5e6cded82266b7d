// The insides of FrozenTree and Infection shared by compel's modules.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "compel/compel.h"
#include "ptrace_util.h"
#include "regs.h"

namespace compel {

namespace detail {

// A thread compel has seized, or the exited main thread of a process whose
// other threads run on (never seized: traced = false, dead = true).
struct ThreadRecord {
  pid_t tid = 0;
  pid_t pid = 0;
  bool traced = true;    // compel seized it (and must detach or reap it)
  bool stopped = false;  // its first stop after PTRACE_SEIZE was seen
  bool dead = false;
  bool reaped = false;   // dead and gone for good: its tid may be reused
  bool running = false;  // resumed into injected code, no stop seen yet
  bool own_child = false;  // a leader whose parent is compel's process
  TaskState state = TaskState::Running;
  int stop_signal = 0;  // Stopped: the group stop's signal
  // Set while an infection has changed the thread (registers, signal
  // mask); the thread's real state, put back at cure.
  std::optional<SavedState> borrowed;
  // The ptrace options compel gave the thread (PTRACE_SEIZE sets none);
  // PTRACE_O_TRACESYSGOOD and PTRACE_O_SUSPEND_SECCOMP are added while
  // borrowed and taken away again at cure, leaving these.
  uint64_t options = 0;
  bool options_changed = false;
};

}  // namespace detail

struct FrozenTree::Impl {
  SeizeOptions opts;
  std::vector<Process> processes;  // parents before children
  std::map<pid_t, detail::ThreadRecord> threads;
  std::vector<Infection::Impl*> infections;  // live ones, cured on release
  bool finished = false;                      // released or killed

  detail::Deadline deadline() const { return detail::Deadline::in_ms(opts.timeout_ms); }
  detail::ThreadRecord& thread(pid_t tid);  // throws if not in the tree
  // The record of a thread still alive; throws Error for an exited main
  // thread, TaskDied for a thread that died since the seize.
  detail::ThreadRecord& live_thread(pid_t tid, const std::string& during);
  Process* find_process(pid_t pid);

  // Waits for a freshly seized thread's first stop; marks it dead if it
  // exited meanwhile.  Throws Error on timeout.
  void wait_seized(detail::ThreadRecord& t);
  // Detach (or reap, if dead) one thread, leaving it as it was found.
  void release_thread(detail::ThreadRecord& t);
  void cure_infections() noexcept;
  void release_all() noexcept;
};

}  // namespace compel
