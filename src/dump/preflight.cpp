#include "dump/preflight.h"

#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <optional>

#include "cgroup/cgroup.h"
#include "ckpt/error.h"
#include "dump/namespaces.h"
#include "dump/shared_memory.h"
#include "dump/tree.h"
#include "files/file_locks.h"
#include "files/module.h"
#include "files/open_fd.h"
#include "files/tcp_connection.h"
#include "mem/vma.h"
#include "proc/maps.h"
#include "proc/read.h"
#include "proc/status.h"
#include "report/report.h"
#include "util/caps.h"

namespace ckpt::dump {

namespace {

using Collector = report::BlockerList;

// "cannot dump memory area START-END (NAME) of pid P: REASON" (mem::area_error)
// split into the area and the reason.
void add_area_error(Collector& c, pid_t pid, const std::string& message) {
  const std::string head = "cannot dump ", tail = format(" of pid %d: ", pid);
  size_t at = message.find(tail);
  if (message.starts_with(head) && at != std::string::npos)
    c.add(pid, "memory area", message.substr(at + tail.size()), message.substr(head.size(), at - head.size()));
  else
    c.add(pid, "memory area", message);
}

std::optional<struct stat> stat_area_file(pid_t pid, const proc::MapsEntry& area) {
  struct stat st;
  std::string via = proc::path(pid, format("map_files/%llx-%llx", (unsigned long long)area.start,
                                           (unsigned long long)area.end));
  if (stat(via.c_str(), &st) == 0) return st;
  if (!area.deleted && stat(area.name.c_str(), &st) == 0 && st.st_ino == area.inode) return st;
  return std::nullopt;
}

// The memory areas the dump would refuse (mem::classify_vma, deleted files
// over --ghost-limit) and a deleted executable.
void check_memory(Collector& c, const TaskView& p, const cli::Options& opts) {
  std::string smaps_path = proc::path(p.proc_id, "smaps");
  std::vector<proc::MapsEntry> areas;
  try {
    areas = proc::parse_maps(proc::read_file(smaps_path), smaps_path);
  } catch (const Error&) {
    return;  // gone meanwhile
  }
  for (const proc::MapsEntry& area : areas) {
    try {
      std::optional<struct stat> file;
      if (mem::needs_file_stat(area)) file = stat_area_file(p.proc_id, area);
      std::optional<mem::Vma> vma = mem::classify_vma(area, file ? &*file : nullptr, p.pid);
      if (vma && vma->object == mem::SharedObject::Ghost && file) {
        std::string why = ghost_refusal(area.name, *file, opts.ghost_limit, opts.link_remap);
        if (!why.empty()) throw mem::area_error(area, p.pid, "its file " + why);
      }
    } catch (const Error& e) {
      add_area_error(c, p.pid, e.what());
    }
  }
  try {
    std::string exe = proc::read_link(proc::path(p.proc_id, "exe"));
    if (exe.ends_with(" (deleted)")) c.add(p.pid, "executable", format("its executable %s was deleted", exe.c_str()));
  } catch (const Error&) {
  }
}

// Deleted files the fds hold that are over --ghost-limit (or otherwise
// cannot be saved as ghosts: those with other names left need
// --link-remap).
void check_ghost_fds(std::vector<files::Blocker>& out, const TaskView& p, const std::vector<int>& fds,
                     const files::FileTable& files, const cli::Options& opts) {
  for (int n : fds) {
    files::OpenFd fd;
    try {
      fd = files::describe_fd_from_proc(p.proc_id, n);
    } catch (const Error&) {
      continue;
    }
    if (files::module_for(fd, files.options()) != &files::kGhostFileModule || !S_ISREG(fd.st.st_mode)) continue;
    std::string path = fd.link.substr(0, fd.link.size() - std::string(" (deleted)").size());
    std::string why = ghost_refusal(path, fd.st, opts.ghost_limit, opts.link_remap);
    if (why.empty()) continue;
    out.push_back({.pid = p.pid, .fd = n, .reason = why, .kind = files::kGhostFileModule.name});
  }
}

// What ckpt's own capabilities cannot do for this process.
void check_process_caps(Collector& c, const TaskView& p) {
  proc::Status st;
  try {
    std::string path = proc::path(p.proc_id, "status");
    st = proc::parse_status(proc::read_file(path), path);
  } catch (const Error&) {
    return;
  }
  if (st.uid[1] != geteuid() && !caps::has(CAP_SYS_PTRACE))
    c.add(p.pid, "capability",
          format("it runs as uid %u and ckpt as uid %u: ckpt %s", st.uid[1], geteuid(),
                 caps::needs(CAP_SYS_PTRACE, "to seize processes of other users").c_str()));
  if (st.seccomp == 2 && !caps::has(CAP_SYS_ADMIN))
    c.add(p.pid, "capability",
          "it runs under seccomp filters: ckpt " + caps::needs(CAP_SYS_ADMIN, "to read seccomp filters"));
}

void check_process(Collector& c, const TaskView& p,
                   const files::FileTable& files, const cli::Options& opts) {
  std::vector<int> fds;
  try {
    fds = proc::list_fds(p.proc_id);
  } catch (const Error&) {
    return;  // gone meanwhile (check -t): nothing of it to dump
  }
  std::vector<files::Blocker>& out = c.all();
  size_t before = out.size();
  files.preflight(p.pid, p.proc_id, fds, out);
  check_ghost_fds(out, p, fds, files, opts);
  for (size_t i = before; i < out.size(); i++) out[i].remedy = remedy_of(out[i].reason);
  c.check(p.pid, "file lock", [&] { files::refuse_file_locks(p.pid, p.proc_id, fds, opts.file_locks); });
  c.check(p.pid, "cgroup", [&] { cgroup::refuse_thread_cgroups(p.pid, p.proc_id, p.tids); });
  check_memory(c, p, opts);
  check_process_caps(c, p);
}

// Established connections saved with --tcp-established are put in repair
// mode and locked: both need CAP_NET_ADMIN.
void check_tcp_caps(Collector& c, const TreeView& tree, const cli::Options& opts) {
  if (!opts.tcp_established || caps::has(CAP_NET_ADMIN)) return;
  std::vector<std::pair<pid_t, std::vector<int>>> fds;
  for (const TaskView& p : tree.processes) {
    if (p.zombie) continue;
    try {
      fds.emplace_back(p.proc_id, proc::list_fds(p.proc_id));
    } catch (const Error&) {
    }
  }
  size_t n = 0;
  try {
    n = files::tree_connections(fds).size();
  } catch (const Error&) {
    return;  // the listing fails: each socket's own check says why
  }
  if (n == 0) return;
  c.add(tree.root, "capability",
        format("the tree holds %zu established TCP connection%s, and ckpt %s", n, n == 1 ? "" : "s",
               caps::needs(CAP_NET_ADMIN, "to repair TCP connections").c_str()));
}

}  // namespace

files::DumpFdOptions fd_options(const cli::Options& opts) {
  files::DumpFdOptions o;
  o.tcp_close = opts.tcp_close;
  o.skip_in_flight = opts.skip_in_flight;
  o.shell_job = opts.shell_job;
  o.file_locks = opts.file_locks;
  o.ext_unix_sk = opts.ext_unix_sk;
  o.tcp_established = opts.tcp_established;
  o.externals.insert(opts.externals.begin(), opts.externals.end());
  return o;
}

std::string remedy_of(const std::string& reason) {
  // The modules' wordings, the last one in the reason winning.
  static const char* const kMarkers[] = {": use --", "; use --", " (use --", ": dump with --", ", use --"};
  size_t best = std::string::npos;
  size_t skip = 0;
  for (const char* m : kMarkers) {
    size_t at = reason.rfind(m);
    if (at != std::string::npos && (best == std::string::npos || at > best)) {
      best = at;
      skip = std::string(m).find_first_not_of(":;(, ");
    }
  }
  if (best == std::string::npos) return "";
  std::string r = reason.substr(best + skip);
  if (reason.compare(best, 2, " (") == 0 && r.ends_with(")")) r.pop_back();
  return r;
}

std::vector<files::Blocker> preflight(const TreeView& tree, const files::FileTable& files,
                                      const cli::Options& opts) {
  Collector c;
  c.check(tree.root, "process tree", [&] { check_supported(tree); });
  c.check(tree.root, "namespace", [&] { refuse_other_namespaces(tree); });
  for (const TaskView& p : tree.processes)
    if (!p.zombie) check_process(c, p, files, opts);
  check_tcp_caps(c, tree, opts);
  for (files::Blocker& b : c.all())
    if (b.remedy.empty()) b.remedy = remedy_of(b.reason);
  return c.all();
}

void refuse(const std::vector<files::Blocker>& blockers, pid_t root) {
  if (blockers.empty()) return;
  if (blockers.size() == 1 && blockers[0].fd >= 0) throw report::Blocked("cannot dump " + blockers[0].text(), blockers);
  if (blockers.size() == 1)
    throw report::Blocked(format("cannot dump the tree of pid %d: %s", root, blockers[0].text().c_str()), blockers);
  std::string list;
  for (const files::Blocker& b : blockers) list += "\n  " + b.text();
  throw report::Blocked(format("cannot dump the tree of pid %d, for %zu reasons:%s", root, blockers.size(), list.c_str()),
                        blockers);
}

std::string check_line(const files::Blocker& b) {
  std::string reason = b.reason;
  // The remedy goes last, after ": ", whatever the module's punctuation.
  if (!b.remedy.empty()) {
    size_t at = reason.rfind(b.remedy);
    if (at != std::string::npos) {
      size_t cut = at;
      while (cut > 0 && std::string(":;(, ").find(reason[cut - 1]) != std::string::npos) cut--;
      reason = reason.substr(0, cut);
    }
  }
  // Reasons of the process's own checks often start by naming it.
  std::string who = format("pid %d", b.pid);
  for (const std::string& head : {"cannot dump " + who + ": ", who + " "})
    if (reason.starts_with(head)) reason = reason.substr(head.size());
  std::string where = who;
  if (b.fd >= 0) where += format(" fd %d", b.fd);
  else if (!b.area.empty()) where += " " + b.area;
  // An fd's kind, unless the reason starts with it already (the other
  // reasons name what they are about).
  std::string line = where + ": ";
  if (b.fd >= 0 && !b.kind.empty() && !reason.starts_with(b.kind))
    line += b.kind + ": ";
  line += reason;
  if (!b.remedy.empty()) line += ": " + b.remedy;
  return line;
}

}  // namespace ckpt::dump
