#include "cgroup/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "proc/read.h"
#include "restore/process_image.h"

namespace ckpt::cgroup {

namespace {

std::vector<proc::CgroupLine> read_cgroups(const std::string& path) {
  return proc::parse_cgroup(proc::read_file(path), path);
}

// Lines of one hierarchy are matched by their controllers (the v1 ids are
// numbered anew at each boot); cgroup v2's are empty.
const proc::CgroupLine* find_hierarchy(const std::vector<proc::CgroupLine>& lines, const proc::CgroupLine& like) {
  for (const proc::CgroupLine& l : lines)
    if (l.controllers == like.controllers && l.v2() == like.v2()) return &l;
  return nullptr;
}

std::string hierarchy_name(const proc::CgroupLine& l) {
  return l.v2() ? "cgroup v2" : "the cgroup v1 hierarchy " + l.controllers;
}

// Where the cgroup `line.path` is seen through one of `mounts`: the mount
// point plus the path below the mount's root.
std::optional<std::string> dir_of(const proc::CgroupLine& line, const std::vector<proc::CgroupMount>& mounts) {
  for (const proc::CgroupMount& m : mounts) {
    if (!m.shows(line)) continue;
    std::string root = m.root == "/" ? "" : m.root;
    if (line.path.compare(0, root.size(), root) != 0) continue;
    std::string below = line.path.substr(root.size());
    if (!below.empty() && below[0] != '/') continue;  // "/a" is not under "/ab"
    return m.mount_point + (below == "/" ? "" : below);
  }
  return std::nullopt;
}

// ckpt neither creates cgroups nor changes them: one that is gone refuses
// the restore before any task exists.
void check_enterable(int pid, const Move& mv) {
  std::string what = format("cannot restore pid %d: its cgroup %s (%s, %s)", pid, mv.path.c_str(),
                            mv.hierarchy.c_str(), mv.dir.c_str());
  struct stat st;
  if (stat(mv.dir.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error(what + " does not exist any more");
    throw sys_error(what + " cannot be read");
  }
  std::string procs = mv.dir + "/cgroup.procs";
  if (!S_ISDIR(st.st_mode) || access(procs.c_str(), W_OK) != 0)
    throw sys_error(what + " cannot be entered: " + procs + " is not writable", S_ISDIR(st.st_mode) ? errno : ENOTDIR);
}

}  // namespace

void refuse_thread_cgroups(pid_t pid, pid_t proc_id, const std::vector<pid_t>& tids) {
  std::vector<proc::CgroupLine> lines = read_cgroups(proc::path(proc_id, "cgroup"));
  for (pid_t tid : tids) {
    for (const proc::CgroupLine& t : read_cgroups(format("/proc/%d/task/%d/cgroup", proc_id, tid))) {
      const proc::CgroupLine* p = find_hierarchy(lines, t);
      if (p && p->path == t.path) continue;
      throw Error(format("thread %d of pid %d is in cgroup %s of %s, its process in %s: threads in cgroups of their own "
                         "are not supported yet",
                         tid, pid, t.path.c_str(), hierarchy_name(t).c_str(), p ? p->path.c_str() : "none"));
    }
  }
}

std::vector<img::CgroupEntry> dump_cgroups(pid_t proc_id) {
  std::vector<proc::CgroupLine> lines = read_cgroups(proc::path(proc_id, "cgroup"));
  std::vector<img::CgroupEntry> out;
  for (const proc::CgroupLine& l : lines) {
    img::CgroupEntry& e = out.emplace_back();
    e.set_hierarchy(l.hierarchy);
    e.set_controllers(l.controllers);
    e.set_path(l.path);
  }
  return out;
}

std::vector<std::vector<Move>> plan_moves(const std::vector<Member>& members, const std::vector<proc::CgroupLine>& own,
                                          const std::vector<proc::CgroupMount>& mounts) {
  std::vector<std::vector<Move>> moves(members.size());
  // Where each member will be once it has moved: what it inherits, with its
  // recorded cgroups over it.
  std::vector<std::vector<proc::CgroupLine>> after(members.size());
  for (size_t i = 0; i < members.size(); i++) {
    const Member& m = members[i];
    const std::vector<proc::CgroupLine>& inherited = m.parent < 0 ? own : after[size_t(m.parent)];
    after[i] = inherited;
    for (const proc::CgroupLine& want : m.cgroups) {
      const proc::CgroupLine* has = find_hierarchy(inherited, want);
      if (has && has->path == want.path) continue;
      std::optional<std::string> dir = dir_of(want, mounts);
      if (!dir)
        throw Error(format("cannot restore pid %d: its cgroup %s of %s cannot be entered: that hierarchy is not mounted "
                           "here",
                           m.pid, want.path.c_str(), hierarchy_name(want).c_str()));
      moves[i].push_back({want.path, hierarchy_name(want), *dir});
      bool replaced = false;
      for (proc::CgroupLine& a : after[i])
        if (a.controllers == want.controllers && a.v2() == want.v2()) a.path = want.path, replaced = true;
      if (!replaced) after[i].push_back(want);
    }
  }
  return moves;
}

std::vector<std::vector<Move>> plan_restore(const restore::TreeImage& tree) {
  std::vector<Member> members;
  for (const restore::ProcessImage& p : tree.procs) {
    Member m;
    m.pid = p.pid();
    for (size_t j = 0; j < members.size(); j++)
      if (members[j].pid == int(p.pstree.ppid())) m.parent = int(j);
    // A zombie is never moved: it ends in its parent's cgroup at once.
    if (!p.zombie && p.core.has_process())
      for (const img::CgroupEntry& e : p.core.process().cgroups())
        m.cgroups.push_back({e.hierarchy(), e.controllers(), e.path()});
    members.push_back(std::move(m));
  }
  std::vector<std::vector<Move>> moves =
      plan_moves(members, read_cgroups("/proc/self/cgroup"),
                 proc::parse_cgroup_mounts(proc::read_file("/proc/self/mountinfo"), "/proc/self/mountinfo"));
  for (size_t i = 0; i < moves.size(); i++)
    for (const Move& mv : moves[i]) check_enterable(members[i].pid, mv);
  return moves;
}

void enter(int pid, const std::vector<Move>& moves) {
  for (const Move& mv : moves) {
    std::string procs = mv.dir + "/cgroup.procs";
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    std::string text = std::to_string(pid);
    if (!fd || write(fd.get(), text.data(), text.size()) != ssize_t(text.size()))
      throw sys_error(format("cannot restore pid %d: cannot move it into its cgroup %s (%s, %s)", pid, mv.path.c_str(),
                             mv.hierarchy.c_str(), procs.c_str()));
  }
}

}  // namespace ckpt::cgroup
