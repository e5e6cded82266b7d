// The few /proc files compel reads about a task.  Every reader returns
// "nothing" rather than throwing when the task is gone: tasks may exit at
// any moment while a tree is being seized.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace compel::proc {

// The whole of a small file; nullopt if it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

struct Stat {
  char state;  // R S D T t Z X ...
  pid_t ppid, pgid, sid;
};
std::optional<Stat> stat(pid_t pid, pid_t tid);

struct Status {
  pid_t tgid;
  pid_t tracer;  // 0 if not traced
};
std::optional<Status> status(pid_t tid);

// The signals pending for the thread, its own and its process's
// (SigPnd | ShdPnd); nullopt if gone.
std::optional<uint64_t> pending_signals(pid_t tid);

// The thread's seccomp mode (0 none, 1 strict, 2 filter); 0 if unknown.
int seccomp_mode(pid_t pid, pid_t tid);

// True if the task has exited or is exiting (gone, a zombie, PF_EXITING).
bool is_dead(pid_t tid);

std::vector<pid_t> tasks(pid_t pid);  // the threads, leader first; empty if gone
std::vector<pid_t> children(pid_t pid, pid_t tid);
// The process's thread count ("Threads:" of /proc/PID/status: every thread
// still listed in /proc/PID/task, zombies included); -1 if gone.
long thread_count(pid_t pid);

// The memory files of a process are read through one of its live threads
// (/proc/PID/task/TID/...): those of a process whose main thread has exited
// are empty.
// An AT_* value of the task's auxiliary vector, 0 if absent.
uint64_t auxv(pid_t pid, pid_t tid, uint64_t type);
// One line of /proc/PID/maps.
struct MapArea {
  uint64_t start, end;
  bool read, write, exec;
  std::string name;  // the path or [name]; empty for anonymous memory
};
// The thread's maps in address order; empty if gone.
std::vector<MapArea> maps(pid_t pid, pid_t tid);
// The mapping a stack pointer is in (sp may equal its end: an empty
// stack), or nullptr.
const MapArea* mapping_of_stack_pointer(const std::vector<MapArea>& maps, uint64_t sp);

// Start of the mapping named `name` (e.g. "[vdso]") in the thread's maps.
std::optional<uint64_t> mapping_start(pid_t pid, pid_t tid, const char* name);

// One POSIX timer as /proc/PID/timers describes it.
struct TimerDesc {
  int id;
  int signo;
  uint64_t sigval;
  int notify;      // SIGEV_* (SIGEV_THREAD_ID included)
  int notify_tid;  // the pid or tid signalled
  int clock_id;
};
std::vector<TimerDesc> posix_timers(pid_t pid);

}  // namespace compel::proc
