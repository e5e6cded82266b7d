#include "dump/tree.h"

#include <map>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"
#include "proc/stat.h"
#include "pstree.pb.h"

namespace ckpt::dump {

namespace {

// Whether `id` names a process group (or session, with `of_session`) that a
// process of the tree leads: restore recreates it by making that process
// its leader first.
bool led_in_tree(const std::map<pid_t, const TaskView*>& by_pid, pid_t id, bool of_session) {
  auto it = by_pid.find(id);
  if (it == by_pid.end()) return false;
  return (of_session ? it->second->sid : it->second->pgid) == id;
}

// A child's session and group must be ones restore can give it again: led
// by a process of the tree, or the root's own (which, with --shell-job, are
// the shell's and outside the tree; the children in them join the root's).
void check_groups(const TaskView& p, const TaskView& root, const std::map<pid_t, const TaskView*>& by_pid) {
  if (p.sid != root.sid && !led_in_tree(by_pid, p.sid, true))
    throw Error(format("cannot dump pid %d: its session %d is neither the root's (%d) nor led by a process of the tree",
                       p.pid, p.sid, root.sid));
  if (p.pgid != root.pgid && !led_in_tree(by_pid, p.pgid, false))
    throw Error(format("cannot dump pid %d: its process group %d is neither the root's (%d) nor led by a process of "
                       "the tree",
                       p.pid, p.pgid, root.pgid));
}

}  // namespace

void check_supported(const TreeView& tree) {
  pid_t root = tree.root;
  const TaskView* top = tree.find(root);
  if (!top) throw Error(format("cannot dump pid %d: it has gone", root));
  if (top->zombie) throw Error(format("cannot dump pid %d: it is a zombie", root));
  std::map<pid_t, const TaskView*> by_pid;
  for (const TaskView& p : tree.processes) by_pid[p.pid] = &p;
  for (const TaskView& p : tree.processes) {
    if (p.pid != root) check_groups(p, *top, by_pid);
  }
}

img::PstreeEntry make_pstree_entry(const compel::Process& p, pid_t root) {
  img::PstreeEntry e;
  e.set_pid(uint32_t(p.pid));
  e.set_ppid(p.pid == root ? 0 : uint32_t(p.ppid));
  e.set_pgid(uint32_t(p.pgid));
  e.set_sid(uint32_t(p.sid));
  for (const compel::Thread& t : p.threads) e.add_threads(uint32_t(t.tid));
  if (p.state == compel::TaskState::Zombie) {
    // Its parent is frozen, so nothing can reap it while we read.
    std::string stat_path = proc::path(p.pid, "stat");
    proc::Stat st = proc::parse_stat(proc::read_file(stat_path), stat_path);
    e.set_zombie(true);
    e.set_exit_status(st.exit_code);
    e.set_exit_signal(uint32_t(st.exit_signal));
    e.set_comm(st.comm);
  }
  return e;
}

void write_pstree(PendingImages& images, const compel::FrozenTree& tree, pid_t root) {
  image::ImageWriter& w = images.open(image::Kind::Pstree);
  for (const compel::Process& p : tree.processes()) {
    img::PstreeEntry e = make_pstree_entry(p, root);
    w.write(e);
    if (e.zombie())
      LOG_INFO("pid %d: a zombie (ppid %u, wait status 0x%x, exit signal %u)", p.pid, e.ppid(), e.exit_status(),
               e.exit_signal());
    LOG_DEBUG("pstree: pid %d ppid %u pgid %d sid %d, %zu threads", p.pid, e.ppid(), p.pgid, p.sid, p.threads.size());
  }
}

files::TreeTasks tree_tasks(const compel::FrozenTree& tree) {
  files::TreeTasks tasks;
  for (const compel::Process& p : tree.processes()) {
    tasks.processes.insert(p.pid);
    for (const compel::Thread& t : p.threads)
      if (t.tid != p.pid) tasks.threads.insert(t.tid);
  }
  return tasks;
}

std::map<pid_t, pid_t> parents_of(const compel::FrozenTree& tree) {
  std::map<pid_t, pid_t> parents;
  for (const compel::Process& p : tree.processes()) parents[p.pid] = p.ppid;
  return parents;
}

}  // namespace ckpt::dump
