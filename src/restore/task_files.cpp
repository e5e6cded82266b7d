#include "restore/task_files.h"

#include "ckpt/error.h"
#include "files.pb.h"
#include "files/files.h"

namespace ckpt::restore {

namespace {

// Descriptions on /proc/PID/... of a process of the tree: id -> that pid.
std::map<uint32_t, int> proc_entries_of_tree(const image::ImageDir& dir) {
  std::map<uint32_t, int> out;
  image::ImageReader reader(dir, image::Kind::Files);
  img::FileEntry f;
  while (reader.read(f))
    if (f.has_reg() && f.reg().proc_in_tree()) out[f.id()] = int(f.reg().proc_pid());
  return out;
}

// Whether process `pid` exists when process `index` opens its files: it is
// that process or one of its ancestors.
bool exists_before(const TreeImage& tree, const std::vector<NodePlan>& plan, size_t index, int pid) {
  for (size_t i = index; i != SIZE_MAX; i = plan[i].parent)
    if (tree.procs[i].pid() == pid) return true;
  return false;
}

}  // namespace

TreeFiles plan_tree_files(const image::ImageDir& dir, const TreeImage& tree, const std::vector<NodePlan>& plan) {
  std::map<uint32_t, std::set<size_t>> users;
  for (size_t i = 0; i < tree.procs.size(); i++) {
    if (tree.procs[i].zombie) continue;
    for (uint32_t id : files::file_ids_of(dir, tree.procs[i].pid())) users[id].insert(i);
  }
  TreeFiles tf;
  tf.owned.resize(plan.size());
  tf.late.resize(plan.size());
  std::vector<std::vector<uint32_t>> owned = description_owners(plan, users);
  std::map<uint32_t, int> proc_entries = users.empty() ? std::map<uint32_t, int>{} : proc_entries_of_tree(dir);
  for (size_t i = 0; i < owned.size(); i++)
    for (uint32_t id : owned[i]) {
      auto it = proc_entries.find(id);
      if (it == proc_entries.end() || exists_before(tree, plan, i, it->second)) {
        tf.owned[i].insert(id);
        continue;
      }
      if (users[id].size() > 1)
        throw Error(format("cannot restore file %u of pid %d: it is open on /proc/%d/ and shared by several "
                           "processes, but pid %d is not an ancestor of all of them (the dump should have refused "
                           "it)",
                           id, tree.procs[i].pid(), it->second, it->second));
      tf.late[i].insert(id);
      tf.late_opens = true;
    }
  tf.budget = users.size();
  return tf;
}

}  // namespace ckpt::restore
