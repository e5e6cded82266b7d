// The pure parts of what ckpt refuses or restores about a process's
// surroundings: fdinfo lock lines, /proc/PID/cgroup, cgroup mounts, and the
// plan of which cgroups each restored process enters.
#include <gtest/gtest.h>

#include "cgroup/cgroup.h"
#include "ckpt/error.h"
#include "files/file_locks.h"
#include "proc/cgroup.h"

using namespace ckpt;

TEST(FileLocks, ParsesEveryKindTheKernelShows) {
  files::FileLock f = files::parse_lock_line("1: FLOCK  ADVISORY  WRITE 29136 fe:00:10953181 0 EOF");
  EXPECT_EQ(f.kind, files::LockKind::Flock);
  EXPECT_EQ(files::describe_lock(f), "a flock write lock");
  files::FileLock p = files::parse_lock_line("1: POSIX  ADVISORY  READ 29136 fe:00:10953182 5 14");
  EXPECT_EQ(p.kind, files::LockKind::Posix);
  EXPECT_FALSE(p.write);
  EXPECT_EQ(files::describe_lock(p), "a POSIX read lock (bytes 5-14)");
  files::FileLock o = files::parse_lock_line("2: OFDLCK ADVISORY  WRITE -1 fe:00:10953184 0 EOF");
  EXPECT_EQ(files::describe_lock(o), "an OFD write lock");
  EXPECT_EQ(files::describe_lock(files::parse_lock_line("3: OFDLCK ADVISORY  WRITE -1 fe:00:1 100 EOF")),
            "an OFD write lock (bytes 100 to the end)");
  EXPECT_EQ(files::describe_lock(files::parse_lock_line("1: LEASE  ACTIVE    READ 29136 fe:00:10953179 0 EOF")),
            "a read lease");
  EXPECT_EQ(files::describe_lock(files::parse_lock_line("1: LEASE  BREAKING  WRITE 1 fe:00:1 0 EOF")),
            "a write lease");
  // Anything else is still refused, with the kernel's words.
  files::FileLock odd = files::parse_lock_line("1: DELEG  ACTIVE    UNLCK 1 fe:00:1 0 EOF");
  EXPECT_EQ(odd.kind, files::LockKind::Other);
  EXPECT_NE(files::describe_lock(odd).find("DELEG"), std::string::npos);
}

TEST(ProcCgroup, ParsesV1AndV2Lines) {
  auto lines = proc::parse_cgroup("4:memory:/process_api/9a\n2:cpu,cpuacct:/\n9:name=systemd:/a:b\n0::/x/y\n");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].hierarchy, 4u);
  EXPECT_EQ(lines[0].controllers, "memory");
  EXPECT_EQ(lines[0].path, "/process_api/9a");
  EXPECT_EQ(lines[2].path, "/a:b");
  EXPECT_FALSE(lines[1].v2());
  EXPECT_TRUE(lines[3].v2());
  EXPECT_EQ(lines[3].path, "/x/y");
  EXPECT_THROW(proc::parse_cgroup("garbage\n"), Error);
}

TEST(ProcCgroup, FindsCgroupMounts) {
  const char* mi =
      "25 1 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "26 25 0:23 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "27 25 0:24 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
      "28 25 0:25 /sub /mnt/my\\040cg rw - cgroup cgroup rw,name=systemd\n";
  auto mounts = proc::parse_cgroup_mounts(mi);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_FALSE(mounts[0].v2);
  EXPECT_TRUE(mounts[1].v2);
  EXPECT_EQ(mounts[2].root, "/sub");
  EXPECT_EQ(mounts[2].mount_point, "/mnt/my cg");
  EXPECT_TRUE(mounts[0].shows({2, "cpu,cpuacct", "/"}));
  EXPECT_FALSE(mounts[0].shows({3, "cpuset", "/"}));
  EXPECT_FALSE(mounts[0].shows({0, "", "/"}));
  EXPECT_TRUE(mounts[1].shows({0, "", "/"}));
  EXPECT_TRUE(mounts[2].shows({9, "name=systemd", "/"}));
}

TEST(CgroupPlan, MovesOnlyWhereTheInheritedCgroupDiffers) {
  std::vector<proc::CgroupLine> own = {{4, "memory", "/ckpt"}, {0, "", "/"}};
  std::vector<proc::CgroupMount> mounts = {{false, "/", "/sys/fs/cgroup/memory", {"rw", "memory"}},
                                           {true, "/", "/sys/fs/cgroup/unified", {"rw"}}};
  std::vector<cgroup::Member> members(4);
  members[0] = {10, -1, {{4, "memory", "/ckpt"}, {0, "", "/a"}}};  // v2 only
  members[1] = {11, 0, {{5, "memory", "/ckpt"}, {0, "", "/a"}}};   // as its parent (ids renumbered)
  members[2] = {12, 0, {{4, "memory", "/ckpt"}, {0, "", "/a/b"}}};
  members[3] = {13, 2, {}};                                        // nothing recorded: inherits
  auto moves = cgroup::plan_moves(members, own, mounts);
  ASSERT_EQ(moves.size(), 4u);
  ASSERT_EQ(moves[0].size(), 1u);
  EXPECT_EQ(moves[0][0].dir, "/sys/fs/cgroup/unified/a");
  EXPECT_EQ(moves[0][0].hierarchy, "cgroup v2");
  EXPECT_TRUE(moves[1].empty());
  ASSERT_EQ(moves[2].size(), 1u);
  EXPECT_EQ(moves[2][0].dir, "/sys/fs/cgroup/unified/a/b");
  EXPECT_TRUE(moves[3].empty());
}

TEST(CgroupPlan, ThroughAMountOfASubtreeAndRefusedWithoutAMount) {
  std::vector<proc::CgroupLine> own = {{0, "", "/"}};
  std::vector<proc::CgroupMount> mounts = {{true, "/ct", "/cg", {"rw"}}};
  auto moves = cgroup::plan_moves({{10, -1, {{0, "", "/ct/x"}}}}, own, mounts);
  ASSERT_EQ(moves[0].size(), 1u);
  EXPECT_EQ(moves[0][0].dir, "/cg/x");
  try {
    cgroup::plan_moves({{10, -1, {{0, "", "/ctx/y"}}}}, own, mounts);
    FAIL() << "a cgroup outside every mount was planned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot restore pid 10: its cgroup /ctx/y of cgroup v2 cannot be entered: that hierarchy is "
                           "not mounted here");
  }
  EXPECT_THROW(cgroup::plan_moves({{10, -1, {{3, "pids", "/p"}}}}, own, mounts), Error);
}
