// The shape of a restored tree, decided before anything is created: who
// creates whom and in which order, which session and process group each
// process takes and how, and which process opens each shared file
// description.  Header-only and pure (pstree records in, plan out) so that
// the unit tests exercise it directly.
//
// Sessions and groups are made the way a shell makes them, race-free:
//   * a session leader calls setsid() itself, first thing;
//   * a process that leads its group, or joins another, calls setpgid()
//     itself, AND its parent calls setpgid(child, group) right after the
//     clone, so the group exists before the parent creates the next child;
//   * everything else inherits session and group from its parent, which
//     has set its own before creating any child.
// So a process can join group G if G is the group of an ancestor, or of an
// earlier-created sibling of itself or of an ancestor.  Children are created
// group leaders first, then by pid.
//
// With --shell-job the root takes ckpt's session and group; the root's
// original session and group ids are mapped to the root's new ones for every
// process, so children that shared them share the new ones.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "ckpt/error.h"

namespace ckpt::restore {

enum class SessionAction {
  Keep,        // inherit (the root: stay in ckpt's session and group)
  NewSession,  // it led its session: setsid()
  OwnGroup,    // it led its process group: setpgid(0, 0)
  JoinGroup,   // it was in another group: setpgid(0, pgid)
};

// One process of pstree.img, parents before children.
struct TreeNode {
  int pid = 0, ppid = 0, pgid = 0, sid = 0;
  bool zombie = false;
};

// How the root enters the world (from restore::plan_session).
struct RootSession {
  SessionAction action = SessionAction::Keep;
  int join_pgid = 0;    // JoinGroup
  int ckpt_sid = 0;     // ckpt's own session and group
  int ckpt_pgid = 0;
};

struct NodePlan {
  size_t parent = SIZE_MAX;      // index; SIZE_MAX for the root
  std::vector<size_t> children;  // creation order
  SessionAction action = SessionAction::Keep;
  int pgid = 0;                  // the group it ends in (restored ids)
  int sid = 0;                   // the session it ends in
};

// Pre-order walk from the root (index 0) along `children`.
inline std::vector<size_t> creation_order(const std::vector<NodePlan>& plan) {
  std::vector<size_t> order, stack{0};
  while (!stack.empty()) {
    size_t i = stack.back();
    stack.pop_back();
    order.push_back(i);
    for (auto it = plan[i].children.rbegin(); it != plan[i].children.rend(); ++it) stack.push_back(*it);
  }
  return order;
}

// Plans the tree; throws Error naming the pid and the reason for a shape
// that cannot be made (a process that left its parent's session without
// leading its own, a group that would not exist yet when it is joined).
inline std::vector<NodePlan> plan_tree(const std::vector<TreeNode>& nodes, const RootSession& root) {
  std::vector<NodePlan> plan(nodes.size());
  if (nodes.empty()) return plan;
  std::map<int, size_t> index;
  for (size_t i = 0; i < nodes.size(); i++) {
    if (!index.emplace(nodes[i].pid, i).second)
      throw Error(format("the process tree lists pid %d twice", nodes[i].pid));
    if (i == 0) continue;
    auto parent = index.find(nodes[i].ppid);
    if (parent == index.end() || parent->second == i)
      throw Error(format("the process tree lists pid %d before its parent %d", nodes[i].pid, nodes[i].ppid));
    if (nodes[parent->second].zombie)
      throw Error(format("the process tree gives zombie %d a child %d", nodes[i].ppid, nodes[i].pid));
    plan[i].parent = parent->second;
    plan[parent->second].children.push_back(i);
  }
  if (nodes[0].zombie) throw Error(format("cannot restore pid %d: the root of the tree is a zombie", nodes[0].pid));

  // The root's ids as they will be, and the map of its old ones.
  const TreeNode& r = nodes[0];
  plan[0].action = root.action;
  switch (root.action) {
    case SessionAction::NewSession: plan[0].sid = plan[0].pgid = r.pid; break;
    case SessionAction::OwnGroup: plan[0].sid = root.ckpt_sid; plan[0].pgid = r.pid; break;
    case SessionAction::JoinGroup: plan[0].sid = root.ckpt_sid; plan[0].pgid = root.join_pgid; break;
    case SessionAction::Keep: plan[0].sid = root.ckpt_sid; plan[0].pgid = root.ckpt_pgid; break;
  }
  auto map_sid = [&](int sid) { return sid == r.sid ? plan[0].sid : sid; };
  auto map_pgid = [&](int pgid) { return pgid == r.pgid ? plan[0].pgid : pgid; };

  // Creation order among siblings: group leaders first, then by pid.
  for (NodePlan& p : plan)
    std::sort(p.children.begin(), p.children.end(), [&](size_t a, size_t b) {
      bool la = nodes[a].pgid == nodes[a].pid, lb = nodes[b].pgid == nodes[b].pid;
      if (la != lb) return la;
      return nodes[a].pid < nodes[b].pid;
    });

  // In creation order: parents before children, earlier siblings (and
  // their subtrees) before later ones.
  for (size_t i : creation_order(plan)) {
    if (i == 0) continue;
    const TreeNode& n = nodes[i];
    NodePlan& p = plan[i];
    const NodePlan& parent = plan[p.parent];
    int sid = map_sid(n.sid), pgid = map_pgid(n.pgid);
    if (sid == n.pid) {
      if (pgid != n.pid)
        throw Error(format("cannot restore pid %d: it leads session %d but is in process group %d", n.pid, sid, pgid));
      p.action = SessionAction::NewSession;
    } else if (sid != parent.sid) {
      throw Error(format("cannot restore pid %d: it is in session %d, its parent %d in session %d; a process that "
                         "left its parent's session without leading its own is not supported",
                         n.pid, n.sid, nodes[p.parent].pid, nodes[p.parent].sid));
    } else if (pgid == n.pid) {
      p.action = SessionAction::OwnGroup;
    } else if (pgid == parent.pgid) {
      p.action = SessionAction::Keep;
    } else {
      // The group must exist when the process is created: that of an
      // ancestor, or of an earlier sibling of it or of an ancestor (in the
      // same session).
      bool exists = false;
      for (size_t at = i; at != SIZE_MAX && !exists; at = plan[at].parent) {
        size_t up = plan[at].parent;
        if (up == SIZE_MAX) break;
        if (plan[up].pgid == pgid && plan[up].sid == sid) exists = true;
        for (size_t sib : plan[up].children) {
          if (sib == at) break;
          if (plan[sib].pgid == pgid && plan[sib].sid == sid && plan[sib].action != SessionAction::NewSession)
            exists = true;
        }
      }
      if (!exists)
        throw Error(format("cannot restore pid %d: its process group %d would not exist yet when it is created "
                           "(the group's processes are created later or are not in the tree)",
                           n.pid, n.pgid));
      p.action = SessionAction::JoinGroup;
    }
    p.sid = sid;
    p.pgid = p.action == SessionAction::NewSession || p.action == SessionAction::OwnGroup ? n.pid : pgid;
  }
  return plan;
}

// The process that opens a file description: the lowest common ancestor of
// every process using it, so that all of them inherit the one description
// (and its offset) and nobody else needs to hold it longer than the fork.
inline size_t common_ancestor(const std::vector<NodePlan>& plan, const std::set<size_t>& users) {
  if (users.empty()) return 0;
  auto depth = [&](size_t i) {
    size_t d = 0;
    for (; plan[i].parent != SIZE_MAX; i = plan[i].parent) d++;
    return d;
  };
  size_t lca = *users.begin();
  for (size_t u : users) {
    size_t a = lca, b = u, da = depth(a), db = depth(b);
    while (da > db) a = plan[a].parent, da--;
    while (db > da) b = plan[b].parent, db--;
    while (a != b) a = plan[a].parent, b = plan[b].parent;
    lca = a;
  }
  return lca;
}

// For each process, the descriptions it opens before creating its children:
// `users` maps a file id to the processes (indices) that have an fd on it.
inline std::vector<std::vector<uint32_t>> description_owners(const std::vector<NodePlan>& plan,
                                                             const std::map<uint32_t, std::set<size_t>>& users) {
  std::vector<std::vector<uint32_t>> owned(plan.size());
  for (const auto& [id, who] : users)
    if (!who.empty()) owned[common_ancestor(plan, who)].push_back(id);
  return owned;
}

}  // namespace ckpt::restore
