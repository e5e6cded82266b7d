#include "dump/tree_view.h"

#include <sys/stat.h>

#include <set>
#include <sstream>

#include "ckpt/error.h"
#include "dump/task_state.h"
#include "proc/read.h"
#include "proc/stat.h"

namespace ckpt::dump {

const TaskView* TreeView::find(pid_t pid) const {
  for (const TaskView& t : processes)
    if (t.pid == pid) return &t;
  return nullptr;
}

TreeView view_of(const compel::FrozenTree& tree, pid_t root) {
  TreeView v;
  v.root = root;
  for (const compel::Process& p : tree.processes()) {
    TaskView t{p.pid, p.ppid, p.pgid, p.sid, p.state == compel::TaskState::Zombie, {}, proc_id_of(p)};
    for (const compel::Thread& th : p.threads)
      if (th.state != compel::TaskState::Zombie) t.tids.push_back(th.tid);
    v.processes.push_back(std::move(t));
  }
  return v;
}

namespace {

// The children of every thread of `pid` (a thread's children are listed
// under the thread that forked them).  A task gone meanwhile has none.
std::vector<pid_t> children_of(pid_t pid, const std::vector<pid_t>& tids) {
  std::vector<pid_t> out;
  for (pid_t tid : tids) {
    std::string text;
    try {
      text = proc::read_file(format("/proc/%d/task/%d/children", pid, tid));
    } catch (const Error&) {
      continue;
    }
    std::istringstream in(text);
    for (pid_t c; in >> c;) out.push_back(c);
  }
  return out;
}

// One process as /proc shows it now; nullopt if it has gone.
std::optional<TaskView> read_task(pid_t pid) {
  proc::Stat st;
  std::vector<pid_t> all;
  try {
    std::string path = proc::path(pid, "stat");
    st = proc::parse_stat(proc::read_file(path), path);
    all = proc::list_threads(pid);
  } catch (const Error&) {
    return std::nullopt;
  }
  TaskView t{pid, st.ppid, st.pgrp, st.session, st.state == 'Z' || st.state == 'X', {}, pid};
  if (t.zombie) return t;
  for (pid_t tid : all) {
    try {
      std::string path = format("/proc/%d/task/%d/stat", pid, tid);
      char state = proc::parse_stat(proc::read_file(path), path).state;
      if (state != 'Z' && state != 'X') t.tids.push_back(tid);
    } catch (const Error&) {
    }
  }
  // Main thread first (list_threads is ascending, and the main thread's
  // tid is the pid, the lowest only if no tid wrapped around).
  std::stable_partition(t.tids.begin(), t.tids.end(), [pid](pid_t tid) { return tid == pid; });
  if (!t.tids.empty()) t.proc_id = t.tids.front();
  return t;
}

}  // namespace

TreeView read_live_tree(pid_t root) {
  TreeView v;
  v.root = root;
  std::optional<TaskView> top = read_task(root);
  if (!top) throw Error(format("no process with pid %d", root));
  std::set<pid_t> seen{root};
  v.processes.push_back(std::move(*top));
  // Breadth first: parents before children, as the dump lists them.
  for (size_t i = 0; i < v.processes.size(); i++) {
    std::vector<pid_t> tids = v.processes[i].tids;
    if (tids.empty()) tids.push_back(v.processes[i].pid);
    for (pid_t c : children_of(v.processes[i].pid, tids)) {
      if (!seen.insert(c).second) continue;
      if (std::optional<TaskView> t = read_task(c)) v.processes.push_back(std::move(*t));
    }
  }
  return v;
}

files::TreeTasks tasks_of(const TreeView& tree) {
  files::TreeTasks tasks;
  for (const TaskView& p : tree.processes) {
    tasks.processes.insert(p.pid);
    for (pid_t tid : p.tids)
      if (tid != p.pid) tasks.threads.insert(tid);
  }
  return tasks;
}

}  // namespace ckpt::dump
