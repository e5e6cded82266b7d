// The plan of a restored tree: creation order, sessions and process groups,
// and which process opens each shared file description.
#include <gtest/gtest.h>

#include "restore/task_files.h"
#include "restore/tree_plan.h"

using namespace ckpt::restore;

namespace {

// ckpt runs in session 10, group 10.
RootSession root_session(SessionAction a, int join = 0) { return {a, join, 10, 10}; }

}  // namespace

TEST(RestoreTreePlan, ChildrenInheritSessionAndGroup) {
  // A session leader with a child in its group and a grandchild.
  std::vector<TreeNode> n = {{100, 1, 100, 100}, {101, 100, 100, 100}, {102, 101, 100, 100}};
  auto p = plan_tree(n, root_session(SessionAction::NewSession));
  EXPECT_EQ(p[0].action, SessionAction::NewSession);
  EXPECT_EQ(p[1].action, SessionAction::Keep);
  EXPECT_EQ(p[2].action, SessionAction::Keep);
  EXPECT_EQ(p[2].pgid, 100);
  EXPECT_EQ(p[2].sid, 100);
  EXPECT_EQ(p[0].children, std::vector<size_t>{1});
  EXPECT_EQ(p[2].parent, 1u);
}

TEST(RestoreTreePlan, ShellJobMapsTheRootsOldSessionAndGroupToCkpts) {
  // bash -c 'loop' & from a shell (session 50, group 50): bash and its
  // sleep were in the shell's group; restored as a job of ckpt's shell.
  std::vector<TreeNode> n = {{200, 50, 50, 50}, {201, 200, 50, 50}};
  auto p = plan_tree(n, root_session(SessionAction::Keep));
  EXPECT_EQ(p[0].pgid, 10);
  EXPECT_EQ(p[0].sid, 10);
  EXPECT_EQ(p[1].action, SessionAction::Keep);
  EXPECT_EQ(p[1].pgid, 10);
  EXPECT_EQ(p[1].sid, 10);
}

TEST(RestoreTreePlan, GroupLeadersAreCreatedFirstAndMembersJoinThem) {
  // A job-control shell: a pipeline 303 | 302 in group 303, whose leader
  // has the higher pid; and a child 301 in a group of its own.
  std::vector<TreeNode> n = {
      {300, 1, 300, 300}, {302, 300, 303, 300}, {303, 300, 303, 300}, {301, 300, 301, 300}};
  auto p = plan_tree(n, root_session(SessionAction::NewSession));
  // Leaders first (by pid), then the member.
  EXPECT_EQ(p[0].children, (std::vector<size_t>{3, 2, 1}));
  EXPECT_EQ(p[2].action, SessionAction::OwnGroup);
  EXPECT_EQ(p[3].action, SessionAction::OwnGroup);
  EXPECT_EQ(p[1].action, SessionAction::JoinGroup);
  EXPECT_EQ(p[1].pgid, 303);
  EXPECT_EQ(creation_order(p), (std::vector<size_t>{0, 3, 2, 1}));
}

TEST(RestoreTreePlan, AGrandchildMayJoinItsGrandparentsGroupOrAnUnclesOne) {
  std::vector<TreeNode> n = {{400, 1, 400, 400},   // root, leader
                             {401, 400, 401, 400},  // own group
                             {402, 400, 402, 400},  // own group (uncle of 404)
                             {403, 401, 400, 400},  // back in the root's group
                             {404, 402, 401, 400}}; // in group 401: 401 is created before 402
  auto p = plan_tree(n, root_session(SessionAction::NewSession));
  EXPECT_EQ(p[3].action, SessionAction::JoinGroup);
  EXPECT_EQ(p[3].pgid, 400);
  EXPECT_EQ(p[4].action, SessionAction::JoinGroup);
  EXPECT_EQ(p[4].pgid, 401);
}

TEST(RestoreTreePlan, RefusesAGroupThatWouldNotExistYet) {
  // 501 wants group 503, whose only process is a grandchild made later.
  std::vector<TreeNode> n = {{500, 1, 500, 500}, {501, 500, 503, 500}, {502, 500, 502, 500}, {503, 502, 503, 500}};
  try {
    plan_tree(n, root_session(SessionAction::NewSession));
    FAIL() << "no error";
  } catch (const ckpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot restore pid 501: its process group 503 would not exist yet"),
              std::string::npos)
        << e.what();
  }
}

TEST(RestoreTreePlan, RefusesAProcessThatLeftItsParentsSession) {
  std::vector<TreeNode> n = {{600, 1, 600, 600}, {601, 600, 700, 700}};
  EXPECT_THROW(plan_tree(n, root_session(SessionAction::NewSession)), ckpt::Error);
}

TEST(RestoreTreePlan, NewSessionInTheTree) {
  std::vector<TreeNode> n = {{700, 1, 700, 700}, {701, 700, 701, 701}, {702, 701, 701, 701}};
  auto p = plan_tree(n, root_session(SessionAction::NewSession));
  EXPECT_EQ(p[1].action, SessionAction::NewSession);
  EXPECT_EQ(p[2].action, SessionAction::Keep);
  EXPECT_EQ(p[2].sid, 701);
}

TEST(RestoreTreePlan, RefusesBrokenTrees) {
  // Child before its parent, a zombie with a child, a zombie root.
  EXPECT_THROW(plan_tree({{800, 1, 800, 800}, {802, 801, 800, 800}, {801, 800, 800, 800}},
                         root_session(SessionAction::NewSession)),
               ckpt::Error);
  EXPECT_THROW(plan_tree({{800, 1, 800, 800}, {801, 800, 800, 800, true}, {802, 801, 800, 800}},
                         root_session(SessionAction::NewSession)),
               ckpt::Error);
  EXPECT_THROW(plan_tree({{800, 1, 800, 800, true}}, root_session(SessionAction::NewSession)), ckpt::Error);
}

TEST(RestoreTreeFiles, ADescriptionIsOpenedByTheCommonAncestorOfItsUsers) {
  //      0
  //    1   2
  //   3 4
  std::vector<TreeNode> n = {{10, 1, 10, 10}, {11, 10, 10, 10}, {12, 10, 10, 10}, {13, 11, 10, 10},
                             {14, 11, 10, 10}};
  auto p = plan_tree(n, root_session(SessionAction::NewSession));
  std::map<uint32_t, std::set<size_t>> users = {
      {1, {3, 4}},     // two siblings: their parent
      {2, {3, 2}},     // cousins: the root
      {3, {4}},        // one user: itself
      {4, {1, 3, 4}},  // a parent and its children: the parent
  };
  auto owned = description_owners(p, users);
  EXPECT_EQ(owned[0], std::vector<uint32_t>{2});
  EXPECT_EQ(owned[1], (std::vector<uint32_t>{1, 4}));
  EXPECT_EQ(owned[4], std::vector<uint32_t>{3});
  EXPECT_TRUE(owned[2].empty());
  EXPECT_TRUE(owned[3].empty());
}

namespace {

// A file entry (its kind and content do not matter to the plan).
ckpt::img::FileEntry plan_entry(uint32_t id, uint32_t group = 0, std::vector<uint32_t> needs = {}) {
  ckpt::img::FileEntry e;
  e.set_id(id);
  e.set_kind(ckpt::img::FILE_REGULAR);
  if (group) e.set_group(group);
  for (uint32_t n : needs) e.add_needs(n);
  return e;
}

ckpt::img::FdinfoEntry plan_fd(uint32_t fd, uint32_t id) {
  ckpt::img::FdinfoEntry e;
  e.set_fd(fd);
  e.set_id(id);
  e.set_cloexec(false);
  return e;
}

}  // namespace

TEST(RestoreTreeFiles, AGroupAndWhatItNeedsAreOpenedWhereEveryHolderInheritsThem) {
  //      0
  //    1   2
  // Files 1 and 2 are one group (a pipe): 1 held by process 1, 2 by process
  // 2: their common ancestor, the root, opens both.  File 3 is held by
  // process 1 alone and needs file 4, which nobody holds (an fd in flight):
  // process 1 opens both.  File 5 needs file 1: file 1's group stays with
  // the root, which is an ancestor of process 2, which holds file 5.
  std::vector<TreeNode> n = {{10, 1, 10, 10}, {11, 10, 10, 10}, {12, 10, 10, 10}};
  auto plan = plan_tree(n, root_session(SessionAction::NewSession));
  TreeImage tree;
  for (int pid : {10, 11, 12}) {
    tree.procs.emplace_back();
    tree.procs.back().pstree.set_pid(uint32_t(pid));
  }
  for (auto e : {plan_entry(1), plan_entry(2, 1), plan_entry(3, 0, {4}), plan_entry(4), plan_entry(5, 0, {1})})
    tree.files.files[e.id()] = e;
  tree.files.fds[10] = {};
  tree.files.fds[11] = {plan_fd(3, 1), plan_fd(4, 3)};
  tree.files.fds[12] = {plan_fd(3, 2), plan_fd(5, 5)};
  tree.files.index("test");
  TreeFiles tf = plan_tree_files(tree, plan);
  EXPECT_EQ(tf.owned[0], (std::set<uint32_t>{1, 2}));
  EXPECT_EQ(tf.owned[1], (std::set<uint32_t>{3, 4}));
  EXPECT_EQ(tf.owned[2], (std::set<uint32_t>{5}));
  // Files 3 and 5 are each used by one process alone: opened at their own
  // numbers there, they need no room above the floor; file 4 has no number.
  EXPECT_EQ(tf.own_number[0], (std::map<uint32_t, int>{}));
  EXPECT_EQ(tf.own_number[1], (std::map<uint32_t, int>{{3, 4}}));
  EXPECT_EQ(tf.own_number[2], (std::map<uint32_t, int>{{5, 5}}));
  EXPECT_EQ(tf.private_owner, (std::map<uint32_t, size_t>{{3, 1}, {4, 1}, {5, 2}}));
  EXPECT_EQ(tf.budget, 3u);
}
