// The round-trip driver's /proc snapshot: its parsers on sample texts, the
// differ with its legitimate-change list, and a snapshot of this process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "proc_snapshot.h"

using namespace rt;

namespace {

const char kSmaps[] =
    "55d4c8a00000-55d4c8a02000 r--p 00000000 08:01 1310757                    /usr/bin/sleep\n"
    "Size:                  8 kB\n"
    "Rss:                   8 kB\n"
    "VmFlags: rd mr mw me sd \n"
    "7f1c2a000000-7f1c2a021000 rw-s 00000000 00:01 1025                       /dev/zero (deleted)\n"
    "Size:                132 kB\n"
    "VmFlags: rd wr sh mr mw me ms sd \n"
    "7f1c2a100000-7f1c2a101000 rw-p 00000000 00:00 0 \n"
    "Size:                  4 kB\n"
    "VmFlags: rd wr mr mw me ac dc \n"
    "7f1c2a200000-7f1c2a201000 rw-p 00001000 fd:00 42                         /tmp/my file  with spaces\n"
    "Size:                  4 kB\n";

TEST(ProcSnapshot, Smaps) {
  Fields f;
  parse_smaps(kSmaps, f);
  EXPECT_EQ(f["smaps 55d4c8a00000-55d4c8a02000 area"], "r--p 00000000 /usr/bin/sleep");
  EXPECT_EQ(f["smaps 55d4c8a00000-55d4c8a02000 file"], "08:01 1310757");
  EXPECT_EQ(f["smaps 55d4c8a00000-55d4c8a02000 Size"], "8 kB");
  EXPECT_EQ(f["smaps 55d4c8a00000-55d4c8a02000 VmFlags"], "rd mr mw me sd");
  // A deleted object's inode is not compared: a restore makes a new one.
  EXPECT_EQ(f["smaps 7f1c2a000000-7f1c2a021000 area"], "rw-s 00000000 /dev/zero (deleted)");
  EXPECT_EQ(f.count("smaps 7f1c2a000000-7f1c2a021000 file"), 0u);
  EXPECT_EQ(f["smaps 7f1c2a100000-7f1c2a101000 area"], "rw-p 00000000");
  EXPECT_EQ(f["smaps 7f1c2a100000-7f1c2a101000 VmFlags"], "rd wr mr mw me ac dc");
  EXPECT_EQ(f["smaps 7f1c2a200000-7f1c2a201000 area"], "rw-p 00001000 /tmp/my file  with spaces");
  EXPECT_EQ(f["smaps 7f1c2a200000-7f1c2a201000 file"], "fd:00 42");
}

TEST(ProcSnapshot, NumaMapsPolicyOnly) {
  Fields f;
  parse_numa_maps("55bc58748000 default file=/usr/bin/head mapped=2 N0=2 kernelpagesize_kB=4\n"
                  "7f0000000000 bind:0 anon=1 dirty=1 N0=1 kernelpagesize_kB=4\n",
                  f);
  EXPECT_EQ(f["numa_maps 55bc58748000 policy"], "default");
  EXPECT_EQ(f["numa_maps 7f0000000000 policy"], "bind:0");
  EXPECT_EQ(f.size(), 2u);
}

// Neighbouring anonymous areas alike in all but their amounts are one area
// (the kernel may or may not have merged them); any difference keeps them apart.
TEST(ProcSnapshot, AlikeAnonymousNeighboursAreOneArea) {
  Fields f;
  parse_smaps("7f0000000000-7f0000007000 rw-p 00000000 00:00 0 \n"
              "Size:                 28 kB\nKernelPageSize:        4 kB\nRss:                   8 kB\n"
              "VmFlags: rd wr mr mw me ac \n"
              "7f0000007000-7f000000b000 rw-p 00000000 00:00 0 \n"
              "Size:                 16 kB\nKernelPageSize:        4 kB\nRss:                   4 kB\n"
              "VmFlags: rd wr mr mw me ac \n"
              "7f000000b000-7f000000c000 rw-p 00000000 00:00 0 \n"
              "Size:                  4 kB\nKernelPageSize:        4 kB\nRss:                   0 kB\n"
              "VmFlags: rd wr mr mw me ac dd \n"
              "7f000000c000-7f000000d000 r--p 00000000 00:00 0 \n"
              "Size:                  4 kB\nKernelPageSize:        4 kB\nRss:                   0 kB\n"
              "VmFlags: rd mr mw me ac \n",
              f);
  parse_numa_maps("7f0000000000 default anon=2\n7f0000007000 default anon=1\n7f000000b000 default\n"
                  "7f000000c000 bind:0\n",
                  f);
  coalesce_areas(f);
  EXPECT_EQ(f["smaps 7f0000000000-7f000000b000 Size"], "44 kB");
  EXPECT_EQ(f["smaps 7f0000000000-7f000000b000 KernelPageSize"], "4 kB");
  EXPECT_EQ(f["smaps 7f0000000000-7f000000b000 Rss"], "12 kB");
  EXPECT_EQ(f.count("smaps 7f0000000000-7f0000007000 Size"), 0u);
  EXPECT_EQ(f.count("numa_maps 7f0000007000 policy"), 0u);
  EXPECT_EQ(f["numa_maps 7f0000000000 policy"], "default");
  // Other flags, other protection: apart.
  EXPECT_EQ(f["smaps 7f000000b000-7f000000c000 VmFlags"], "rd wr mr mw me ac dd");
  EXPECT_EQ(f["smaps 7f000000c000-7f000000d000 area"], "r--p 00000000");
}

TEST(ProcSnapshot, StatNamesFieldsAfterTheComm) {
  Fields f;
  parse_stat("27241 (a) b) c) S 27236 27236 24328 0 -1 4194304 98 0 0 0 0 0 0 0 20 5 1 0 871782 3133440 366\n", f);
  EXPECT_EQ(f["stat comm"], "a) b) c");
  EXPECT_EQ(f["stat state"], "S");
  EXPECT_EQ(f["stat ppid"], "27236");
  EXPECT_EQ(f["stat flags"], "4194304");
  EXPECT_EQ(f["stat nice"], "5");
  EXPECT_EQ(f["stat rss"], "366");
}

TEST(ProcSnapshot, StatusLimitsFdinfoTimers) {
  Fields f;
  parse_status("Name:\tsleep\nSigBlk:\t0000000000010000\nGroups:\t \nVmRSS:\t    1768 kB\n", f);
  EXPECT_EQ(f["status Name"], "sleep");
  EXPECT_EQ(f["status SigBlk"], "0000000000010000");
  EXPECT_EQ(f["status Groups"], "");
  EXPECT_EQ(f["status VmRSS"], "1768 kB");

  parse_limits(
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max open files            20000                20000                files     \n"
      "Max nice priority         0                    0                    \n",
      f);
  EXPECT_EQ(f["limits Max open files"], "20000 20000 files");
  EXPECT_EQ(f["limits Max nice priority"], "0 0");

  parse_fdinfo("3", "/tmp/x", "pos:\t5\nflags:\t0100002\nmnt_id:\t24\nino:\t77\n", f);
  EXPECT_EQ(f["fdinfo 3 pos"], "5");
  EXPECT_EQ(f["fdinfo 3 flags"], "0100002");
  EXPECT_EQ(f["fdinfo 3 ino"], "77");
  parse_fdinfo("4", "pipe:[123]", "pos:\t0\nino:\t123\n", f);
  EXPECT_EQ(f.count("fdinfo 4 ino"), 0u);  // a new pipe after a restore
  parse_fdinfo("5", "anon_inode:[eventpoll]",
               "pos:\t0\ntfd:        7 events:       19 data:  1\ntfd:        9 events:       1 data:  2\n", f);
  // Keyed by their target, whatever the kernel's order.
  EXPECT_EQ(f["fdinfo 5 tfd 7"], "events: 19 data: 1");
  EXPECT_EQ(f["fdinfo 5 tfd 9"], "events: 1 data: 2");

  parse_timers("ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.12\nClockID: 1\nID: 3\nClockID: 0\n", f);
  EXPECT_EQ(f["timers 0 signal"], "14/0000000000000000");
  EXPECT_EQ(f["timers 0 ClockID"], "1");
  EXPECT_EQ(f["timers 3 ClockID"], "0");
}

TEST(ProcSnapshot, InodeNamesKeepSharing) {
  InodeNames n;
  EXPECT_EQ(n.name("pipe:[900]"), "pipe:#1");
  EXPECT_EQ(n.name("socket:[5]"), "socket:#1");
  EXPECT_EQ(n.name("pipe:[800]"), "pipe:#2");
  EXPECT_EQ(n.name("pipe:[900]"), "pipe:#1");
  EXPECT_EQ(n.name("/tmp/x"), "/tmp/x");
  EXPECT_EQ(n.name("anon_inode:[eventfd]"), "anon_inode:[eventfd]");
}

ProcSnapshot one(const Fields& f) {
  ProcSnapshot s;
  s.scopes["pid 1 tid 1"] = f;
  return s;
}

TEST(ProcSnapshot, DiffSkipsLegitimateChangesOnly) {
  Fields a = {{"status SigBlk", "0"}, {"stat utime", "5"}, {"smaps 1-2 Rss", "4 kB"},
              {"status SigQ", "1/100"}, {"stat flags", "4194304"}, {"status VmRSS", "1 kB"}};
  Fields b = a;
  b["stat utime"] = "9";
  b["smaps 1-2 Rss"] = "8 kB";
  b["status SigQ"] = "3/100";
  b["stat flags"] = std::to_string(4194304 | 0x40 | 0x100);  // PF_FORKNOEXEC, PF_SUPERPRIV
  b["status VmRSS"] = "2 kB";
  EXPECT_TRUE(diff_snapshots(one(a), one(b)).empty());

  b["status SigBlk"] = "1";
  b["status SigQ"] = "3/200";
  b["stat flags"] = std::to_string(4194304 | 0x800);
  b["status NewField"] = "x";
  auto d = diff_snapshots(one(a), one(b));
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(describe(d[0]), "pid 1 tid 1: stat flags: before \"4194304\", after \"4196352\"");
  EXPECT_EQ(describe(d[1]), "pid 1 tid 1: status NewField: before (none), after \"x\"");
  EXPECT_EQ(describe(d[2]), "pid 1 tid 1: status SigBlk: before \"0\", after \"1\"");
  EXPECT_EQ(describe(d[3]), "pid 1 tid 1: status SigQ: before \"100\", after \"200\"");

  Judgement j = judge(d, {"status New*"});
  EXPECT_EQ(j.skipped.size(), 1u);
  EXPECT_EQ(j.unexpected.size(), 3u);
}

TEST(ProcSnapshot, GhostOfATakenPathAndProcInodes) {
  Fields a = {{"fd 5", "/w/taken (deleted)"}, {"cwd", "/w/d (deleted)"}, {"fd 6", "/w/x (deleted)"}};
  Fields b = {{"fd 5", "/w/taken.ckpt-ghost-1 (deleted)"}, {"cwd", "/w/d.ckpt-ghost-12 (deleted)"},
              {"fd 6", "/w/x.ckpt-ghost-1"}};
  auto d = diff_snapshots(one(a), one(b));
  ASSERT_EQ(d.size(), 1u);  // a ghost's name only when deleted
  EXPECT_EQ(d[0].field, "fd 6");

  Fields f;
  parse_fdinfo("3", "/proc/12/status", "pos:\t0\nino:\t77\n", f);
  EXPECT_EQ(f.count("fdinfo 3 ino"), 0u);  // procfs inodes are per process
}

TEST(ProcSnapshot, MissingTask) {
  ProcSnapshot a = one({{"status Name", "x"}});
  ProcSnapshot b = a;
  b.scopes["pid 1 tid 2"] = {{"status Name", "y"}};
  auto d = diff_snapshots(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(describe(d[0]), "pid 1 tid 2: absent before, present after");
  // A test's skip patterns never hide a whole task.
  EXPECT_EQ(judge(d, {"*"}).unexpected.size(), 1u);
  EXPECT_EQ(judge(d, {"(gone)"}).unexpected.size(), 1u);
  EXPECT_EQ(judge(d, {"(new)"}).skipped.size(), 1u);
}

TEST(ProcSnapshot, RunningOrAsleepIsTimingStoppedIsNot) {
  Fields a = {{"status State", "S (sleeping)"}, {"stat wchan", "1"}};
  Fields b = {{"status State", "R (running)"}, {"stat wchan", "0"}};
  EXPECT_TRUE(diff_snapshots(one(a), one(b)).empty());
  b["status State"] = "T (stopped)";
  EXPECT_EQ(diff_snapshots(one(a), one(b)).size(), 1u);
}

TEST(ProcSnapshot, ZombiesHaveNoMaskToCompare) {
  Fields a = {{"status State", "Z (zombie)"}, {"status SigBlk", "0000000000004000"}, {"status SigCgt", "1"}};
  Fields b = a;
  b["status SigBlk"] = "fffffffffffbfeef";
  EXPECT_TRUE(diff_snapshots(one(a), one(b)).empty());
  b["status SigCgt"] = "0";
  EXPECT_EQ(diff_snapshots(one(a), one(b)).size(), 1u);
  a["status State"] = b["status State"] = "S (sleeping)";
  EXPECT_EQ(diff_snapshots(one(a), one(b)).size(), 2u);
}

// This process, twice: the same; then with a signal blocked and an area's
// flags changed: exactly those differ.
TEST(ProcSnapshot, ThisProcess) {
  void* area = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  ProcSnapshot a = snapshot_tree(getpid());
  std::string me = "pid " + std::to_string(getpid());
  ASSERT_TRUE(a.scopes.count(me));
  ASSERT_TRUE(a.scopes.count(me + " tid " + std::to_string(gettid())));
  EXPECT_FALSE(a.scopes[me]["cwd"].empty());
  EXPECT_FALSE(a.scopes[me]["limits Max open files"].empty());
  EXPECT_FALSE(a.scopes[me + " tid " + std::to_string(gettid())]["sched policy"].empty());

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  ASSERT_EQ(madvise(area, 4096, MADV_DONTFORK), 0);
  ProcSnapshot b = snapshot_tree(getpid());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(area, 4096);

  bool mask = false, flags = false;
  for (const FieldDiff& d : diff_snapshots(a, b)) {
    if (d.field == "status SigBlk") mask = true;
    if (d.field.ends_with(" VmFlags") && d.after && d.after->find(" dc") != std::string::npos) flags = true;
  }
  EXPECT_TRUE(mask);
  EXPECT_TRUE(flags);
}

}  // namespace
