#include "files/proc_entry.h"

#include <charconv>

#include "ckpt/error.h"
#include "proc/read.h"
#include "proc/stat.h"

namespace ckpt::files {

namespace {

// "123/..." -> 123, and what follows it; nullopt unless digits then '/' or end.
std::optional<pid_t> leading_pid(std::string_view s, std::string_view& rest) {
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || end == s.data() || pid <= 0) return std::nullopt;
  rest = s.substr(size_t(end - s.data()));
  if (!rest.empty() && rest[0] != '/') return std::nullopt;
  return pid;
}

}  // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  std::string path = proc::path(pid, "stat");
  try {
    return proc::parse_stat(proc::read_file(path), path).start_time;
  } catch (const Error&) {
    return std::nullopt;  // gone
  }
}

std::optional<pid_t> tree_process_named(const img::FileEntry& file) {
  if (file.has_reg() && file.reg().proc_in_tree()) return pid_t(file.reg().proc_pid());
  if (file.has_pidfd() && file.pidfd().in_tree()) return pid_t(file.pidfd().pid());
  return std::nullopt;
}

std::optional<ProcTarget> proc_target(const std::string& path) {
  constexpr std::string_view kProc = "/proc/";
  if (!path.starts_with(kProc)) return std::nullopt;
  std::string_view rest;
  std::optional<pid_t> pid = leading_pid(std::string_view(path).substr(kProc.size()), rest);
  if (!pid) return std::nullopt;
  constexpr std::string_view kTask = "/task/";
  std::string_view after;
  if (rest.starts_with(kTask))
    if (std::optional<pid_t> tid = leading_pid(rest.substr(kTask.size()), after)) return ProcTarget{*pid, *tid};
  return ProcTarget{*pid, *pid};
}

void dump_proc_entry(const OpenFd& fd, const DumpFdOptions& opts, img::RegFileEntry& reg) {
  std::optional<ProcTarget> t = proc_target(fd.link);
  if (!t) return;
  const TreeTasks* tree = opts.tree;
  for (pid_t id : {t->pid, t->tid})
    if (tree && tree->threads.count(id))
      throw Error(format("it is open on %s, of thread %d of the tree; an fd on the /proc entries of a thread "
                         "other than a main thread is not supported yet",
                         fd.link.c_str(), id));
  reg.set_proc_pid(uint32_t(t->pid));
  if (tree && tree->processes.count(t->pid)) {
    reg.set_proc_in_tree(true);
    return;
  }
  std::optional<uint64_t> start = process_start_time(t->pid);
  if (!start) throw Error(format("it is open on %s, and pid %d is gone", fd.link.c_str(), t->pid));
  reg.set_proc_start_time(*start);
}

void check_proc_entry(const img::RegFileEntry& reg) {
  if (!reg.has_proc_pid() || reg.proc_in_tree()) return;
  pid_t pid = pid_t(reg.proc_pid());
  std::optional<uint64_t> start = process_start_time(pid);
  const std::string& path = reg.identity().path();
  if (!start)
    throw Error(format("it was open on %s of pid %d, outside the dumped tree, and pid %d is gone", path.c_str(), pid,
                       pid));
  if (*start != reg.proc_start_time())
    throw Error(format("it was open on %s of pid %d, outside the dumped tree, and pid %d is now another process "
                       "(started at tick %llu, not %llu)",
                       path.c_str(), pid, pid, (unsigned long long)*start,
                       (unsigned long long)reg.proc_start_time()));
}

}  // namespace ckpt::files
