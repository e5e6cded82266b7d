#include "restore/task_files.h"

#include "ckpt/error.h"
#include "files.pb.h"
#include "files/files.h"
#include "files/proc_entry.h"

namespace ckpt::restore {

namespace {

// Descriptions that name a process of the tree (on /proc/PID/..., a
// pidfd): id -> that pid.
std::map<uint32_t, int> proc_entries_of_tree(const files::FilesImage& image) {
  std::map<uint32_t, int> out;
  for (const auto& [id, f] : image.files)
    if (std::optional<pid_t> pid = files::tree_process_named(f)) out[id] = int(*pid);
  return out;
}

// Whether process `pid` exists when process `index` opens its files: it is
// that process or one of its ancestors.
bool exists_before(const TreeImage& tree, const std::vector<NodePlan>& plan, size_t index, int pid) {
  for (size_t i = index; i != SIZE_MAX; i = plan[i].parent)
    if (tree.procs[i].pid() == pid) return true;
  return false;
}

// Who must hold each group: every process whose fds use one of its files,
// and every process that must hold a group needing it (its opener needs it
// open), to the end of the chain of needs.
std::map<uint32_t, std::set<size_t>> group_users(const files::FilesImage& image, const TreeImage& tree) {
  std::map<uint32_t, std::set<size_t>> users;
  for (size_t i = 0; i < tree.procs.size(); i++) {
    if (tree.procs[i].zombie) continue;
    for (uint32_t id : files::file_ids_of(image, tree.procs[i].pid())) users[image.group_id(id)].insert(i);
  }
  // Needs form no cycle (FilesImage checks nothing of it, open_files does):
  // as many rounds as there are groups at most.
  for (size_t round = 0; round <= image.files.size(); round++) {
    bool changed = false;
    for (auto& [group, who] : std::map<uint32_t, std::set<size_t>>(users))
      for (uint32_t member : image.group_of(group))
        for (uint32_t need : image.file(member).needs()) {
          std::set<size_t>& theirs = users[image.group_id(need)];
          size_t before = theirs.size();
          theirs.insert(who.begin(), who.end());
          changed = changed || theirs.size() != before;
        }
    if (!changed) return users;
  }
  throw Error("cannot restore the files of the tree: their needs form a cycle");
}

}  // namespace

TreeFiles plan_tree_files(const TreeImage& tree, const std::vector<NodePlan>& plan) {
  const files::FilesImage& image = tree.files;
  std::map<uint32_t, std::set<size_t>> users = group_users(image, tree);
  TreeFiles tf;
  tf.owned.resize(plan.size());
  tf.late.resize(plan.size());
  std::vector<std::vector<uint32_t>> owned = description_owners(plan, users);
  std::map<uint32_t, int> proc_entries = proc_entries_of_tree(image);
  for (size_t i = 0; i < owned.size(); i++)
    for (uint32_t group : owned[i])
      for (uint32_t id : image.group_of(group)) {
        auto it = proc_entries.find(id);
        if (it == proc_entries.end() || exists_before(tree, plan, i, it->second)) {
          tf.owned[i].insert(id);
          continue;
        }
        if (users[group].size() > 1)
          throw Error(format("cannot restore file %u of pid %d: it is open on /proc/%d/ and shared by several "
                             "processes, but pid %d is not an ancestor of all of them (the dump should have "
                             "refused it)",
                             id, tree.procs[i].pid(), it->second, it->second));
        tf.late[i].insert(id);
        tf.late_opens = true;
      }
  tf.own_number.resize(plan.size());
  size_t placed = 0;
  for (size_t i = 0; i < owned.size(); i++) {
    for (uint32_t group : owned[i]) {
      tf.largest_group = std::max(tf.largest_group, image.group_of(group).size());
      if (users[group] != std::set<size_t>{i}) continue;
      for (uint32_t id : image.group_of(group)) tf.private_owner[id] = i;
    }
    if (tree.procs[i].zombie) continue;
    for (const img::FdinfoEntry& e : image.fds_of(tree.procs[i].pid())) {
      auto it = tf.private_owner.find(e.id());
      if (it == tf.private_owner.end() || it->second != i || tf.late[i].count(e.id())) continue;
      if (tf.own_number[i].emplace(e.id(), int(e.fd())).second) placed++;
    }
  }
  tf.budget = image.files.size() - placed;
  return tf;
}

}  // namespace ckpt::restore
