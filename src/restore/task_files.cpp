#include "restore/task_files.h"

#include "files/files.h"

namespace ckpt::restore {

TreeFiles plan_tree_files(const image::ImageDir& dir, const TreeImage& tree, const std::vector<NodePlan>& plan) {
  std::map<uint32_t, std::set<size_t>> users;
  for (size_t i = 0; i < tree.procs.size(); i++) {
    if (tree.procs[i].zombie) continue;
    for (uint32_t id : files::file_ids_of(dir, tree.procs[i].pid())) users[id].insert(i);
  }
  TreeFiles tf;
  tf.owned.resize(plan.size());
  std::vector<std::vector<uint32_t>> owned = description_owners(plan, users);
  for (size_t i = 0; i < owned.size(); i++) tf.owned[i].insert(owned[i].begin(), owned[i].end());
  tf.budget = users.size();
  return tf;
}

}  // namespace ckpt::restore
