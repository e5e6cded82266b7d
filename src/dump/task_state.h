// The state of a process and its threads outside memory and files: what
// ptrace and /proc tell before the parasite goes in, what the parasite tells
// from inside, and the core and fs images made of both.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compel/compel.h"
#include "core.pb.h"
#include "files.pb.h"
#include "proc/stat.h"
#include "proc/status.h"

namespace ckpt::dump {

using RawSiginfo = std::vector<uint8_t>;

// Read through ptrace and /proc while the thread is frozen and not yet
// infected (the parasite changes registers and may change the mask).
struct ThreadSnapshot {
  pid_t tid = 0;
  // A main thread that has exited while the others run on: nothing but its
  // tid and name is left to read.
  bool exited = false;
  compel::Registers regs;
  compel::FrozenTree::SyscallState syscall{-1, 0};
  uint64_t blocked = 0;
  std::vector<RawSiginfo> pending;  // thread-private
  std::string comm;
  int exit_signal = 0;
  uint64_t robust_list = 0;         // get_robust_list(): glibc's robust futexes
  uint64_t robust_list_len = 0;
  int seccomp_mode = 0;             // 0 or 2 (SECCOMP_MODE_FILTER); strict is refused
  std::vector<compel::SeccompFilter> seccomp_filters;  // the oldest first
  img::SchedEntry sched;            // sched_getattr from outside
  std::string affinity;             // sched_getaffinity from outside (a bit per CPU)
};

struct ProcessSnapshot {
  pid_t pid = 0;
  // Where /proc shows the process: its pid, or the tid of its first live
  // thread if the main thread has exited (/proc/PID then shows a zombie's
  // empty maps and fds).
  pid_t proc_id = 0;
  compel::TaskState state = compel::TaskState::Running;
  int stop_signal = 0;  // Stopped: the signal of its group stop
  proc::Stat stat;
  proc::Status status;
  std::vector<RawSiginfo> shared_pending;
  std::vector<img::RlimitEntry> rlimits;
  int oom_score_adj = 0;
  std::string cwd, root;
  uint32_t loginuid = 0;            // /proc/PID/loginuid, the same in every live thread
  std::optional<int> autogroup_nice;        // /proc/PID/autogroup (its session's)
  std::vector<ThreadSnapshot> threads;  // main thread first
};

ProcessSnapshot snapshot_process(const compel::FrozenTree& tree, const compel::Process& process);
pid_t proc_id_of(const compel::Process& process);

// What only the process itself can tell, asked through the parasite.
struct ParasiteReport {
  compel::ProcessInfo process;
  std::vector<compel::ThreadInfo> threads;  // main thread first
  uint64_t brk = 0;                         // brk(0) in the process
  // get_mempolicy of each area, in the order of the memory snapshot's.
  std::vector<compel::Infection::AreaPolicy> area_policies;
};

// core-<tid>.img of one thread; the main thread's carries the process part.
img::CoreEntry make_core(const ProcessSnapshot& snap, size_t thread_index, const ParasiteReport& report);
// fs-<pid>.img
img::FsEntry make_fs(const ProcessSnapshot& snap, const ParasiteReport& report);

}  // namespace ckpt::dump
