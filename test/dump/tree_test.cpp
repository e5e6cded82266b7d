// ckpt dump of process trees: a parent with a sleeping child and a zombie,
// file descriptions shared across processes, process groups, and failures
// in a child that must leave the whole tree as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core.pb.h"
#include "files.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"
#include "child.h"
#include "fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// The kernel's restart codes as a task stopped in a syscall shows them in ax.
constexpr int64_t kERestartNoHand = -514, kERestartRestartBlock = -516;

std::vector<pid_t> children_of(pid_t pid) {
  std::istringstream in(proc::read_file(proc::path(pid, "task/" + std::to_string(pid) + "/children")));
  std::vector<pid_t> kids;
  for (pid_t k; in >> k;) kids.push_back(k);
  return kids;
}

// Polls `cond` for up to 10 s.
template <typename F>
bool within_10s(F&& cond) {
  for (int i = 0; i < 1000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

char state_of(pid_t pid) {
  std::string stat = proc::read_file(proc::path(pid, "stat"));
  return stat[stat.rfind(')') + 2];
}

bool in_syscall(pid_t pid, long nr) {
  return proc::read_file(proc::path(pid, "syscall")).starts_with(std::to_string(nr) + " ");
}

// Asleep in sleep(3): in clock_nanosleep, or back in it through
// restart_syscall once a ptrace stop interrupted it.
bool sleeping(pid_t pid) {
  return within_10s([&] { return in_syscall(pid, SYS_clock_nanosleep) || in_syscall(pid, SYS_restart_syscall); });
}

// Whether `pid` is gone within 10 s: reaped by us, or already by the dump
// (the test is both the subreaper of an orphan and its tracer, and the
// tracer's wait for a killed orphan may be the one that reaps it).
bool gone(pid_t pid) {
  return within_10s([&] {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD && kill(pid, 0) < 0);
  });
}

// The grandchildren of the test outlive their parent's SIGKILL (this test is
// their subreaper): killed and reaped at the end of each test.
struct Grandchildren {
  std::vector<pid_t> pids;
  ~Grandchildren() {
    for (pid_t p : pids) kill(p, SIGKILL);
    for (pid_t p : pids) reap(p);
  }
};

// In the root of a test tree: a child sleeping in clock_nanosleep in its
// own process group; `setup` runs in it first.
pid_t fork_sleeper(const std::function<void()>& setup = [] {}) {
  pid_t pid = fork();
  if (pid == 0) {
    close(kReadyFd);
    close(kPingFd);
    setup();
    for (;;) sleep(1000);
  }
  return pid;
}

class TreeTest : public DumpTest {
 protected:
  // The root's children once `n` of them exist and each is a zombie or
  // asleep in clock_nanosleep.
  std::vector<pid_t> settled_children(pid_t root, size_t n) {
    std::vector<pid_t> kids;
    bool ok = within_10s([&] {
      kids = children_of(root);
      if (kids.size() != n) return false;
      for (pid_t k : kids)
        if (state_of(k) != 'Z' && !in_syscall(k, SYS_clock_nanosleep)) return false;
      return true;
    });
    if (!ok) ADD_FAILURE() << "the children of " << root << " did not settle";
    return kids;
  }
};

TEST_F(TreeTest, ParentSleeperAndZombieWithSharedFiles) {
  std::string data = tmp_ + "/data";
  Grandchildren grandchildren;
  Child root(tmp_, [&] {
    int fd = open(data.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || write(fd, "hello", 5) != 5) _exit(3);
    lseek(fd, 2, SEEK_SET);
    dup2(fd, 5);
    close(fd);
    fork_sleeper([&] {
      setpgid(0, 0);
      int own = open(data.c_str(), O_RDONLY);
      dup2(own, 6);
      close(own);
    });
    if (fork() == 0) _exit(7);  // never reaped: a zombie
  });
  pid_t pid = root.pid();
  std::vector<pid_t> kids = settled_children(pid, 2);
  ASSERT_EQ(kids.size(), 2u);
  grandchildren.pids = kids;
  pid_t sleeper = state_of(kids[0]) == 'Z' ? kids[1] : kids[0];
  pid_t zombie = sleeper == kids[0] ? kids[1] : kids[0];
  ASSERT_EQ(state_of(zombie), 'Z');

  run_dump(options(pid));

  // Left running, as they were.
  EXPECT_FALSE(traced_or_stopped(pid));
  EXPECT_FALSE(traced_or_stopped(sleeper));
  EXPECT_TRUE(sleeping(sleeper));
  EXPECT_EQ(state_of(zombie), 'Z');

  // pstree.img: the root first, then its children; the zombie with its
  // exit status and nothing else.
  auto pstree = read_all<img::PstreeEntry>(image::Kind::Pstree);
  ASSERT_EQ(pstree.size(), 3u);
  EXPECT_EQ(pstree[0].pid(), uint32_t(pid));
  EXPECT_EQ(pstree[0].ppid(), 0u);
  EXPECT_EQ(pstree[0].pgid(), uint32_t(getpgrp()));
  std::map<pid_t, img::PstreeEntry> by_pid;
  for (const auto& e : pstree) by_pid[pid_t(e.pid())] = e;
  ASSERT_TRUE(by_pid.count(sleeper) && by_pid.count(zombie));
  const img::PstreeEntry& s = by_pid[sleeper];
  EXPECT_EQ(s.ppid(), uint32_t(pid));
  EXPECT_EQ(s.pgid(), uint32_t(sleeper));
  EXPECT_EQ(s.sid(), pstree[0].sid());
  ASSERT_EQ(s.threads_size(), 1);
  EXPECT_EQ(s.threads(0), uint32_t(sleeper));
  EXPECT_FALSE(s.zombie());
  const img::PstreeEntry& z = by_pid[zombie];
  EXPECT_EQ(z.ppid(), uint32_t(pid));
  EXPECT_TRUE(z.zombie());
  EXPECT_EQ(z.threads_size(), 0);
  EXPECT_TRUE(WIFEXITED(z.exit_status()));
  EXPECT_EQ(WEXITSTATUS(z.exit_status()), 7);
  EXPECT_EQ(z.exit_signal(), uint32_t(SIGCHLD));
  EXPECT_EQ(z.pgid(), uint32_t(getpgrp()));

  // Every live process has its own images, the zombie none.
  std::set<std::string> names = images();
  for (pid_t p : {pid, sleeper})
    for (const char* kind : {"core", "mm", "pagemap", "pages", "fdinfo", "fs"})
      EXPECT_TRUE(names.count(std::string(kind) + "-" + std::to_string(p) + ".img")) << kind << " of " << p;
  for (const std::string& n : names) EXPECT_EQ(n.find(std::to_string(zombie)), std::string::npos) << n;
  EXPECT_TRUE(names.count("inventory.img"));

  // Registers as the kernel shows them inside an interrupted syscall:
  // restore turns them into a restart (see docs/design-dump.md).
  auto root_core = read_all<img::CoreEntry>(image::Kind::Core, pid);
  auto sleeper_core = read_all<img::CoreEntry>(image::Kind::Core, sleeper);
  ASSERT_EQ(root_core.size(), 1u);
  ASSERT_EQ(sleeper_core.size(), 1u);
  EXPECT_EQ(root_core[0].thread().in_syscall(), SYS_pause);
  EXPECT_EQ(root_core[0].thread().syscall_ret(), kERestartNoHand);
  const img::ThreadCoreEntry& st = sleeper_core[0].thread();
  EXPECT_EQ(st.in_syscall(), SYS_clock_nanosleep);
  EXPECT_EQ(st.syscall_ret(), kERestartRestartBlock);
  EXPECT_EQ(st.gpregs().orig_ax(), uint64_t(SYS_clock_nanosleep));
  EXPECT_EQ(int64_t(st.gpregs().ax()), kERestartRestartBlock);
  EXPECT_TRUE(sleeper_core[0].has_process());

  // One description inherited across fork is one file entry for both.
  auto files = read_all<img::FileEntry>(image::Kind::Files);
  std::map<uint32_t, img::FdinfoEntry> root_fds, sleeper_fds;
  for (const auto& e : read_all<img::FdinfoEntry>(image::Kind::Fdinfo, pid)) root_fds[e.fd()] = e;
  for (const auto& e : read_all<img::FdinfoEntry>(image::Kind::Fdinfo, sleeper)) sleeper_fds[e.fd()] = e;
  ASSERT_EQ(root_fds.size(), 4u);     // 0 1 2 5
  ASSERT_EQ(sleeper_fds.size(), 5u);  // 0 1 2 5 6
  for (uint32_t fd : {0u, 1u, 2u, 5u}) EXPECT_EQ(root_fds[fd].id(), sleeper_fds[fd].id()) << "fd " << fd;
  EXPECT_NE(sleeper_fds[6].id(), sleeper_fds[5].id());
  EXPECT_EQ(files.size(), 4u);  // /dev/null, the log, data shared, data of the sleeper
  for (const auto& f : files) {
    if (f.id() == root_fds[5].id()) {
      EXPECT_EQ(f.reg().pos(), 2u);
    }
    if (f.id() == sleeper_fds[6].id()) {
      EXPECT_EQ(f.reg().identity().path(), data);
      EXPECT_EQ(f.reg().pos(), 0u);
    }
  }

  // The zombie is still its parent's to reap, the sleeper still answers
  // signals as before.
  ASSERT_EQ(kill(sleeper, SIGTERM), 0);
  EXPECT_TRUE(within_10s([&] { return state_of(sleeper) == 'Z'; }));
}

TEST_F(TreeTest, RefusedChildLeavesTheWholeTreeRunningAndNoImages) {
  Grandchildren grandchildren;
  Child root(tmp_, [&] {
    fork_sleeper([] {
      int uffd = int(syscall(SYS_userfaultfd, 0));
      dup2(uffd, 7);
      close(uffd);
    });
  });
  pid_t pid = root.pid();
  std::vector<pid_t> kids = settled_children(pid, 1);
  ASSERT_EQ(kids.size(), 1u);
  grandchildren.pids = kids;
  pid_t sleeper = kids[0];

  // The root is dumped (infected and cured) before its child is refused.
  EXPECT_EQ(dump_error(pid), "cannot dump fd 7 of pid " + std::to_string(sleeper) + ": userfaultfd is not supported yet");
  EXPECT_TRUE(images().empty()) << *images().begin();
  for (pid_t p : {pid, sleeper}) EXPECT_FALSE(traced_or_stopped(p)) << p;
  EXPECT_TRUE(root.sleeps_in(SYS_pause));
  EXPECT_TRUE(sleeping(sleeper));
  EXPECT_EQ(children_of(pid), kids);
}

TEST_F(TreeTest, ChildInAForeignProcessGroupIsRefused) {
  Grandchildren grandchildren;
  pid_t foreign = getpgrp();  // the test's: neither the root's nor led in the tree
  Child root(tmp_, [&] {
    setpgid(0, 0);
    fork_sleeper([&] { setpgid(0, foreign); });
  });
  pid_t pid = root.pid();
  std::vector<pid_t> kids = settled_children(pid, 1);
  ASSERT_EQ(kids.size(), 1u);
  grandchildren.pids = kids;
  ASSERT_TRUE(within_10s([&] { return getpgid(kids[0]) == foreign; }));
  // One blocker of the pre-flight (dump/preflight.h), about the tree.
  EXPECT_EQ(dump_error(pid), "cannot dump the tree of pid " + std::to_string(pid) + ": cannot dump pid " +
                                 std::to_string(kids[0]) + ": its process group " +
                                 std::to_string(foreign) + " is neither the root's (" + std::to_string(pid) +
                                 ") nor led by a process of the tree");
  EXPECT_TRUE(images().empty());
  for (pid_t p : {pid, kids[0]}) EXPECT_FALSE(traced_or_stopped(p)) << p;
}

TEST_F(TreeTest, WithoutLeaveRunningTheWholeTreeIsKilled) {
  Grandchildren grandchildren;
  Child root(tmp_, [] { fork_sleeper(); });
  std::vector<pid_t> kids = settled_children(root.pid(), 1);
  ASSERT_EQ(kids.size(), 1u);
  grandchildren.pids = kids;
  run_dump(options(root.pid(), false));
  EXPECT_TRUE(root.ends_within(10000));
  // The orphaned sleeper was killed too.
  EXPECT_TRUE(gone(kids[0]));
  grandchildren.pids.clear();
  EXPECT_TRUE(images().count("inventory.img"));
}

TEST_F(TreeTest, ADumpReplacesAnOlderOneWhole) {
  std::string stale;
  {
    Grandchildren grandchildren;
    Child root(tmp_, [] { fork_sleeper(); });
    grandchildren.pids = settled_children(root.pid(), 1);
    ASSERT_EQ(grandchildren.pids.size(), 1u);
    run_dump(options(root.pid()));
    stale = "core-" + std::to_string(grandchildren.pids[0]) + ".img";
    ASSERT_TRUE(images().count(stale));
  }
  Child single(tmp_, [] {});
  // A failed dump (here after the images of its process were begun) leaves
  // the older one as it was ...
  std::set<std::string> before = images();
  int fd = open((tmp_ + "/images/" + stale + ".tmp").c_str(), O_WRONLY | O_CREAT, 0600);
  close(fd);  // (a leftover of a crashed dump is not an image)
  before.insert(stale + ".tmp");
  {
    Child refused(tmp_, [] { make_io_uring(kRefusedFd); });
    EXPECT_NE(dump_error(refused.pid()).find("io_uring is not supported yet"), std::string::npos);
  }
  EXPECT_EQ(images(), before);
  // ... a complete one has nothing of it left.
  run_dump(options(single.pid()));
  std::set<std::string> after = images();
  EXPECT_FALSE(after.count(stale));
  // (Nor the leftover of the crashed dump.)
  EXPECT_FALSE(after.count(stale + ".tmp"));
  EXPECT_TRUE(after.count("core-" + std::to_string(single.pid()) + ".img"));
  EXPECT_TRUE(after.count("inventory.img"));
  auto pstree = read_all<img::PstreeEntry>(image::Kind::Pstree);
  ASSERT_EQ(pstree.size(), 1u);
  EXPECT_EQ(pstree[0].pid(), uint32_t(single.pid()));
}

// A child's pages still shared copy-on-write with its parent since fork are
// stored once: the child's pagemap says they are in the parent's pages
// image, and only the pages it wrote since are in its own.
TEST_F(TreeTest, PagesSharedWithTheParentSinceForkAreStoredOnce) {
  if (geteuid() != 0) GTEST_SKIP() << "page frame numbers are shown to root only";
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), pages = 4096;  // 16 MiB
  const std::set<size_t> written = {0, 100, 2000, pages - 1};
  // Mapped here, so that its address is known; filled by the root, written
  // again by its child in a few pages.
  auto* area = static_cast<char*>(mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                       -1, 0));
  ASSERT_NE(area, MAP_FAILED);
  Grandchildren grandchildren;
  Child root(tmp_, [&] {
    for (size_t i = 0; i < pages; i++) memset(area + i * page, int('a' + i % 26), page);
    fork_sleeper([&] {
      for (size_t i : written) memset(area + i * page, 'C', page);
    });
  });
  pid_t pid = root.pid();
  std::vector<pid_t> kids = settled_children(pid, 1);
  ASSERT_EQ(kids.size(), 1u);
  grandchildren.pids = kids;
  pid_t child = kids[0];

  run_dump(options(pid));

  std::set<std::string> names = images();
  ASSERT_TRUE(names.count("pages-" + std::to_string(child) + ".img"));
  uint64_t root_bytes = std::filesystem::file_size(tmp_ + "/images/pages-" + std::to_string(pid) + ".img");
  uint64_t child_bytes = std::filesystem::file_size(tmp_ + "/images/pages-" + std::to_string(child) + ".img");
  EXPECT_GE(root_bytes, pages * page);
  // The written pages, and a little of its stack and data: not the area.
  EXPECT_GE(child_bytes, written.size() * page);
  EXPECT_LT(child_bytes, 1u << 20) << "the child's pages image holds its parent's pages again";

  // Which pages of the area are where, and that each is the child's data.
  auto pagemap = read_all<img::PagemapRecord>(image::Kind::Pagemap, child);
  ASSERT_TRUE(!pagemap.empty() && pagemap[0].has_head());
  EXPECT_EQ(pagemap[0].head().pages_id(), uint32_t(child));
  image::ImageDir dir = image::ImageDir::open(tmp_ + "/images");
  image::PagesFile own = image::open_pages(dir, uint32_t(child), false);
  image::PagesFile parents = image::open_pages(dir, uint32_t(pid), false);
  const uint64_t start = reinterpret_cast<uint64_t>(area), end = start + pages * page;
  std::set<size_t> own_pages, shared_pages;
  std::string want(page, '\0'), got(page, '\0');
  for (const auto& r : pagemap) {
    if (r.has_head()) continue;
    const img::PagemapEntry& e = r.has_run() ? r.run() : r.shared_run();
    EXPECT_EQ(r.has_shared_run(), e.has_in_pages_id());
    if (e.has_in_pages_id()) {
      EXPECT_EQ(e.in_pages_id(), uint32_t(pid));
    }
    int fd = e.has_in_pages_id() ? parents.fd.get() : own.fd.get();
    for (uint32_t i = 0; i < e.nr_pages(); i++) {
      uint64_t at = e.vaddr() + i * page;
      if (at < start || at >= end) continue;
      (e.has_in_pages_id() ? shared_pages : own_pages).insert((at - start) / page);
      iovec local{want.data(), page}, remote{reinterpret_cast<void*>(at), page};
      ASSERT_EQ(process_vm_readv(child, &local, 1, &remote, 1, 0), ssize_t(page));
      ASSERT_EQ(pread(fd, got.data(), page, off_t(e.offset() + i * page)), ssize_t(page));
      EXPECT_EQ(got, want) << "page " << (at - start) / page << " of the area";
    }
  }
  EXPECT_EQ(own_pages, written);
  EXPECT_EQ(shared_pages.size() + own_pages.size(), pages);
  munmap(area, pages * page);
}

}  // namespace
