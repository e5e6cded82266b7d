// The /proc parsers on sample texts, and on this process's own /proc files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <elf.h>
#include <string>

#include "ckpt/error.h"
#include "proc/auxv.h"
#include "proc/fdinfo.h"
#include "proc/limits.h"
#include "proc/maps.h"
#include "proc/read.h"
#include "proc/stat.h"
#include "proc/status.h"

using namespace ckpt;

namespace {

const char kMaps[] =
    "55d4c8a00000-55d4c8a02000 r--p 00000000 08:01 1310757                    /usr/bin/sleep\n"
    "55d4c8a02000-55d4c8a06000 r-xp 00002000 08:01 1310757                    /usr/bin/sleep\n"
    "55d4c9d3e000-55d4c9d5f000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f1c2a000000-7f1c2a021000 rw-s 00000000 00:01 1025                       /dev/zero (deleted)\n"
    "7f1c2a100000-7f1c2a101000 rw-p 00001000 fd:00 42                         /tmp/my file  with spaces\n"
    "7f1c2a200000-7f1c2a201000 r--p 00000000 fd:00 43                         /tmp/gone (deleted)\n"
    "7f1c2a300000-7f1c2a301000 r--p 00000000 fd:00 44                         /tmp/new\\012line\n"
    "7f1c2a400000-7f1c2a401000 rw-p 00000000 00:00 0 \n"
    "7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd1c7f2000-7ffd1c7f6000 r--p 00000000 00:00 0                          [vvar]\n"
    "7ffd1c7f6000-7ffd1c7f8000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
    "7ffd1c7f8000-7ffd1c7fa000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST(ProcMaps, ParsesEveryKindOfLine) {
  auto maps = proc::parse_maps(kMaps);
  ASSERT_EQ(maps.size(), 13u);

  EXPECT_EQ(maps[0].start, 0x55d4c8a00000u);
  EXPECT_EQ(maps[0].end, 0x55d4c8a02000u);
  EXPECT_TRUE(maps[0].read);
  EXPECT_FALSE(maps[0].write);
  EXPECT_FALSE(maps[0].exec);
  EXPECT_FALSE(maps[0].shared);
  EXPECT_EQ(maps[0].dev_major, 8u);
  EXPECT_EQ(maps[0].dev_minor, 1u);
  EXPECT_EQ(maps[0].inode, 1310757u);
  EXPECT_EQ(maps[0].name, "/usr/bin/sleep");
  EXPECT_TRUE(maps[0].is_file_path());
  EXPECT_EQ(maps[1].offset, 0x2000u);
  EXPECT_TRUE(maps[1].exec);

  EXPECT_EQ(maps[2].name, "[heap]");
  EXPECT_FALSE(maps[2].is_file_path());

  EXPECT_TRUE(maps[3].shared);
  EXPECT_EQ(maps[3].name, "/dev/zero");
  EXPECT_TRUE(maps[3].deleted);

  EXPECT_EQ(maps[4].name, "/tmp/my file  with spaces");
  EXPECT_FALSE(maps[4].deleted);
  EXPECT_EQ(maps[4].dev_major, 0xfdu);
  EXPECT_EQ(maps[4].offset, 0x1000u);

  EXPECT_EQ(maps[5].name, "/tmp/gone");
  EXPECT_TRUE(maps[5].deleted);
  EXPECT_EQ(maps[6].name, "/tmp/new\nline");

  EXPECT_EQ(maps[7].name, "");
  EXPECT_EQ(maps[7].size(), 0x1000u);

  EXPECT_EQ(maps[8].name, "[stack]");
  EXPECT_EQ(maps[9].name, "[vvar]");
  EXPECT_EQ(maps[10].name, "[vvar_vclock]");
  EXPECT_EQ(maps[11].name, "[vdso]");
  EXPECT_EQ(maps[12].name, "[vsyscall]");
  EXPECT_EQ(maps[12].start, 0xffffffffff600000u);
}

TEST(ProcMaps, KeepsSmapsVmFlags) {
  const char smaps[] =
      "7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0                          [stack]\n"
      "Size:                132 kB\n"
      "KernelPageSize:        4 kB\n"
      "THPeligible:           0\n"
      "VmFlags: rd wr mr mw me gd ac \n"
      "7f1c2a400000-7f1c2a401000 rw-p 00000000 00:00 0 \n"
      "Size:                  4 kB\n"
      "VmFlags: rd wr mr mw me ac dc \n";
  auto maps = proc::parse_maps(smaps);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_TRUE(maps[0].has_vm_flag("gd"));
  EXPECT_FALSE(maps[0].has_vm_flag("dc"));
  EXPECT_EQ(maps[0].vm_flags.size(), 7u);
  EXPECT_TRUE(maps[1].has_vm_flag("dc"));
}

TEST(ProcMaps, RejectsMalformedLines) {
  try {
    proc::parse_maps("55d4c8a00000-55d4c8a02000 r--p 0000zz00 08:01 13 /x\n", "/proc/7/maps");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cannot parse /proc/7/maps: offset \"0000zz00\" is not a number");
  }
  EXPECT_THROW(proc::parse_maps("55d4c8a00000-55d4c8a02000 r--p\n"), Error);
  EXPECT_THROW(proc::parse_maps("2000-1000 r--p 00000000 08:01 13 /x\n"), Error);
  EXPECT_THROW(proc::parse_maps("Size: 4 kB\n"), Error);  // a field before any area
}

TEST(ProcMaps, MatchesOwnMappings) {
  long page = sysconf(_SC_PAGESIZE);
  void* area = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  ASSERT_EQ(mprotect(static_cast<char*>(area) + page, page, PROT_READ), 0);  // splits it in three
  auto maps = proc::parse_maps(proc::read_file("/proc/self/smaps"), "/proc/self/smaps");
  auto start = reinterpret_cast<uint64_t>(area);
  bool found = false;
  for (const auto& m : maps) {
    EXPECT_FALSE(m.vm_flags.empty()) << m.name;
    if (m.start == start + page) {
      found = true;
      EXPECT_EQ(m.end, start + 2 * page);
      EXPECT_TRUE(m.read);
      EXPECT_FALSE(m.write);
    }
  }
  EXPECT_TRUE(found);
  munmap(area, 3 * page);
}

// A stat line whose comm holds ") " and spaces, as a process may name itself.
const char kStat[] =
    "1234 (we) ird (name) S 1 1234 1200 34816 -1 4194560 99 0 0 0 0 0 0 0 20 0 3 0 85857 3133440 393 "
    "18446744073709551615 94184997052416 94184997072297 140730523791952 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
    "94184997088304 94184997089920 94185449635840 140730523793863 140730523793883 140730523793883 "
    "140730523795435 0\n";

TEST(ProcStat, ParsesCommWithParenthesesAndMmFields) {
  proc::Stat s = proc::parse_stat(kStat);
  EXPECT_EQ(s.pid, 1234);
  EXPECT_EQ(s.comm, "we) ird (name");
  EXPECT_EQ(s.state, 'S');
  EXPECT_EQ(s.ppid, 1);
  EXPECT_EQ(s.pgrp, 1234);
  EXPECT_EQ(s.session, 1200);
  EXPECT_EQ(s.tty_nr, 34816);
  EXPECT_EQ(s.num_threads, 3);
  EXPECT_EQ(s.start_time, 85857u);
  EXPECT_EQ(s.start_code, 94184997052416u);
  EXPECT_EQ(s.end_code, 94184997072297u);
  EXPECT_EQ(s.start_stack, 140730523791952u);
  EXPECT_EQ(s.exit_signal, 17);
  EXPECT_EQ(s.start_data, 94184997088304u);
  EXPECT_EQ(s.end_data, 94184997089920u);
  EXPECT_EQ(s.start_brk, 94185449635840u);
  EXPECT_EQ(s.arg_start, 140730523793863u);
  EXPECT_EQ(s.arg_end, 140730523793883u);
  EXPECT_EQ(s.env_start, 140730523793883u);
  EXPECT_EQ(s.env_end, 140730523795435u);
  EXPECT_EQ(s.exit_code, 0);
}

TEST(ProcStat, RejectsTruncatedLines) {
  EXPECT_THROW(proc::parse_stat("1234 (x) S 1 2 3\n"), Error);
  EXPECT_THROW(proc::parse_stat("1234 x S 1 2 3\n"), Error);
  std::string bad = kStat;
  bad.replace(bad.find(" S "), 3, " SS ");
  EXPECT_THROW(proc::parse_stat(bad), Error);
}

TEST(ProcStat, ParsesOwnStat) {
  proc::Stat s = proc::parse_stat(proc::read_file("/proc/self/stat"));
  EXPECT_EQ(s.pid, getpid());
  EXPECT_EQ(s.ppid, getppid());
  EXPECT_NE(s.start_code, 0u);
  EXPECT_LT(s.arg_start, s.arg_end);
}

const char kStatus[] =
    "Name:\tsleep\n"
    "Umask:\t0027\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t1234\n"
    "Ngid:\t0\n"
    "Pid:\t1234\n"
    "PPid:\t1200\n"
    "TracerPid:\t0\n"
    "Uid:\t1000\t1001\t1002\t1003\n"
    "Gid:\t100\t101\t102\t103\n"
    "FDSize:\t64\n"
    "Groups:\t4 24 27 \n"
    "Threads:\t1\n"
    "SigQ:\t3/96365\n"
    "SigPnd:\t0000000000000100\n"
    "ShdPnd:\t0000000000004000\n"
    "SigBlk:\t0000000000010000\n"
    "SigIgn:\t0000000000000006\n"
    "SigCgt:\t0000000180000000\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t000001fffeffffff\n"
    "CapEff:\t000001fffeffffff\n"
    "CapBnd:\t000001ffffffffff\n"
    "CapAmb:\t0000000000000400\n"
    "NoNewPrivs:\t1\n"
    "Seccomp:\t2\n"
    "untag_mask:\t0xffffffffffffffff\n"
    "Cpus_allowed_list:\t0-1\n";

TEST(ProcStatus, ParsesCredsCapsAndSignalMasks) {
  proc::Status s = proc::parse_status(kStatus);
  ASSERT_TRUE(s.umask.has_value());
  EXPECT_EQ(*s.umask, 027u);
  EXPECT_EQ(s.state, 'S');
  EXPECT_EQ(s.tgid, 1234);
  EXPECT_EQ(s.ppid, 1200);
  EXPECT_EQ(s.uid[0], 1000u);
  EXPECT_EQ(s.uid[3], 1003u);
  EXPECT_EQ(s.gid[1], 101u);
  EXPECT_EQ(s.groups, (std::vector<uint32_t>{4, 24, 27}));
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.sig_pending, 0x100u);
  EXPECT_EQ(s.shared_pending, 0x4000u);
  EXPECT_EQ(s.sig_blocked, 0x10000u);
  EXPECT_EQ(s.sig_ignored, 6u);
  EXPECT_EQ(s.sig_caught, 0x180000000u);
  EXPECT_EQ(s.cap_prm, 0x1fffeffffffu);
  EXPECT_EQ(s.cap_bnd, 0x1ffffffffffu);
  EXPECT_EQ(s.cap_amb, 0x400u);
  EXPECT_TRUE(s.no_new_privs);
  EXPECT_EQ(s.seccomp, 2);
}

TEST(ProcStatus, EmptyGroupsAndMissingFields) {
  proc::Status s = proc::parse_status("Pid:\t5\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t \n");
  EXPECT_TRUE(s.groups.empty());
  EXPECT_FALSE(s.umask.has_value());
  EXPECT_THROW(proc::parse_status("Name:\tx\n"), Error);
  EXPECT_THROW(proc::parse_status("Pid:\t5\nUid:\t0\t0\t0\nGid:\t0\t0\t0\t0\n"), Error);
  EXPECT_THROW(proc::parse_status("Pid:\t5\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nSigBlk:\tzz\n"), Error);
}

TEST(ProcStatus, ParsesOwnStatus) {
  proc::Status s = proc::parse_status(proc::read_file("/proc/self/status"));
  EXPECT_EQ(s.pid, getpid());
  EXPECT_EQ(s.uid[0], getuid());
  EXPECT_GE(s.threads, 1);
}

TEST(ProcFdinfo, ParsesFlagsPosAndExtraLines) {
  proc::Fdinfo f = proc::parse_fdinfo("pos:\t4096\nflags:\t02100002\nmnt_id:\t25\nino:\t1234\n");
  EXPECT_EQ(f.pos, 4096u);
  EXPECT_EQ(f.flags, 02100002u);  // O_CLOEXEC | O_LARGEFILE | O_RDWR
  EXPECT_EQ(f.mnt_id, 25);
  EXPECT_EQ(f.ino, 1234u);
  EXPECT_TRUE(f.extra.empty());

  proc::Fdinfo e = proc::parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\neventfd-count:    2a\n");
  ASSERT_EQ(e.extra.size(), 1u);
  EXPECT_EQ(e.extra[0].first, "eventfd-count");
  EXPECT_EQ(e.extra[0].second, "2a");

  EXPECT_THROW(proc::parse_fdinfo("pos:\t0\n"), Error);
  EXPECT_THROW(proc::parse_fdinfo("pos:\t0\nflags:\t09\n"), Error);  // flags are octal
}

TEST(ProcAuxv, ParsesPairsUpToAtNull) {
  uint64_t raw[] = {AT_PAGESZ, 4096, AT_ENTRY, 0x401000, AT_NULL, 0, 0xdead, 0xbeef};
  auto auxv = proc::parse_auxv(std::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
  EXPECT_EQ(auxv, (std::vector<uint64_t>{AT_PAGESZ, 4096, AT_ENTRY, 0x401000, AT_NULL, 0}));
  EXPECT_THROW(proc::parse_auxv(std::string_view(reinterpret_cast<const char*>(raw), 32)), Error);

  auto own = proc::parse_auxv(proc::read_file("/proc/self/auxv"));
  ASSERT_GE(own.size(), 2u);
  EXPECT_EQ(own[own.size() - 2], uint64_t(AT_NULL));
}

TEST(ProcRead, ListsOwnFdsAndThreads) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto fds = proc::list_fds(getpid());
  close(fd);
  EXPECT_NE(std::find(fds.begin(), fds.end(), fd), fds.end());
  EXPECT_TRUE(std::is_sorted(fds.begin(), fds.end()));
  auto tids = proc::list_threads(getpid());
  EXPECT_NE(std::find(tids.begin(), tids.end(), getpid()), tids.end());
  EXPECT_THROW(proc::read_file("/proc/self/no-such-file"), Error);
  EXPECT_EQ(proc::read_link("/proc/self/cwd")[0], '/');
}

}  // namespace

// ---- /proc/PID/limits ------------------------------------------------------

TEST(Limits, ParsesColumnsAndUnlimited) {
  const char* text =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max file size             1048576              unlimited            bytes     \n"
      "Max open files            1024                 524288               files     \n";
  auto rows = ckpt::proc::parse_limits(text);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].cur, RLIM_INFINITY);
  EXPECT_EQ(rows[1].cur, 1048576u);
  EXPECT_EQ(rows[1].max, RLIM_INFINITY);
  EXPECT_EQ(rows[2].cur, 1024u);
  EXPECT_EQ(rows[2].max, 524288u);
}

TEST(Limits, MatchesGetrlimitOfSelf) {
  std::string text = ckpt::proc::read_file("/proc/self/limits");
  auto rows = ckpt::proc::parse_limits(text);
  ASSERT_GE(rows.size(), size_t(RLIM_NLIMITS));
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    rlimit lim;
    ASSERT_EQ(getrlimit(__rlimit_resource(r), &lim), 0);
    EXPECT_EQ(rows[size_t(r)].cur, lim.rlim_cur) << "resource " << r;
    EXPECT_EQ(rows[size_t(r)].max, lim.rlim_max) << "resource " << r;
  }
}

TEST(Limits, RejectsGarbage) {
  EXPECT_THROW(ckpt::proc::parse_limits("no header here\n"), ckpt::Error);
  EXPECT_THROW(ckpt::proc::parse_limits("Limit Soft Limit Hard Limit Units\nMax x  abc  def  s\n"), ckpt::Error);
}
