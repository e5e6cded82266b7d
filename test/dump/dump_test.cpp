// ckpt dump on children of this test, checked against the children
// themselves: memory pages read back with process_vm_readv, fds, signals,
// limits.  A refused dump must leave the child running as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "ckpt/error.h"
#include "commands.h"
#include "core.pb.h"
#include "files.pb.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "mm.pb.h"
#include "pagemap.pb.h"
#include "proc/read.h"
#include "proc/status.h"
#include "pstree.pb.h"
#include "shmem.pb.h"
#include "restore/vdso.h"
#include "child.h"
#include "fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

const long kPage = sysconf(_SC_PAGESIZE);

// Areas set up before fork, so the test knows their addresses; unmapped at
// the end of the test so that later children do not inherit them.
struct Areas {
  char* anon;     // 64 pages: 0-9 and 20-29 written, 40 only read
  char* file;     // 4 pages of a private file mapping, page 1 written
  char* shared;   // 8 pages of shared anonymous memory, page 3 written
  ~Areas() {
    munmap(anon, 64 * kPage);
    munmap(file, 4 * kPage);
    munmap(shared, 8 * kPage);
  }
};

void make_areas(Areas& a, const std::string& dir) {
  a.anon = static_cast<char*>(mmap(nullptr, 64 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (int p : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29})
    memset(a.anon + p * kPage, 'a' + p % 26, size_t(kPage));
  volatile char sink = a.anon[40 * kPage];
  (void)sink;
  std::string path = dir + "/mapped";
  int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  std::string content(size_t(4 * kPage), 'f');
  if (write(fd, content.data(), content.size()) != ssize_t(content.size())) throw sys_error("write");
  a.file = static_cast<char*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  close(fd);
  volatile char sink2 = a.file[0];
  (void)sink2;
  a.file[kPage] = 'X';
  a.shared = static_cast<char*>(mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  a.shared[3 * kPage] = 'S';
}

// The pages of [start, start + n pages) listed in the pagemap, as page
// indexes from start.
std::set<int> dumped_pages(const std::vector<img::PagemapRecord>& pagemap, const char* start, int n) {
  std::set<int> pages;
  auto from = reinterpret_cast<uint64_t>(start), to = from + uint64_t(n * kPage);
  for (const auto& r : pagemap) {
    if (!r.has_run()) continue;
    for (uint64_t p = 0; p < r.run().nr_pages(); ++p) {
      uint64_t addr = r.run().vaddr() + p * uint64_t(kPage);
      if (addr >= from && addr < to) pages.insert(int((addr - from) / uint64_t(kPage)));
    }
  }
  return pages;
}

const img::VmaEntry* vma_at(const std::vector<img::VmaRecord>& mm, const void* addr) {
  auto a = reinterpret_cast<uint64_t>(addr);
  for (const auto& r : mm)
    if (r.has_vma() && r.vma().start() <= a && a < r.vma().end()) return &r.vma();
  return nullptr;
}

TEST_F(DumpTest, ImagesMatchTheLiveChild) {
  Areas areas;
  make_areas(areas, tmp_);
  std::string data = tmp_ + "/data";
  Child child(tmp_, [&] {
    int fd = open(data.c_str(), O_RDWR | O_CREAT, 0600);
    if (write(fd, "0123456789", 10) != 10) _exit(3);
    lseek(fd, 4, SEEK_SET);
    dup2(fd, 5);
    fcntl(fd, F_DUPFD_CLOEXEC, 6);  // same description, close-on-exec
    close(fd);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 7);
    close(null);
    umask(027);
    if (chdir(tmp_.c_str()) < 0) _exit(3);
    struct rlimit lim = {123, 456};
    setrlimit(RLIMIT_NOFILE, &lim);
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, nullptr);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, nullptr);
    raise(SIGUSR1);                // pending for the thread
    kill(getpid(), SIGUSR2);       // pending for the process
    struct itimerval it = {{0, 0}, {1000, 0}};
    setitimer(ITIMER_REAL, &it, nullptr);
    prctl(PR_SET_NAME, "dumpee");
  });
  pid_t pid = child.pid();
  run_dump(options(pid));
  EXPECT_FALSE(traced_or_stopped(pid));

  auto inventory = read_all<img::InventoryEntry>(image::Kind::Inventory);
  ASSERT_EQ(inventory.size(), 1u);
  EXPECT_EQ(inventory[0].root_pid(), uint32_t(pid));
  EXPECT_EQ(inventory[0].img_version(), image::kFormatVersion);
  EXPECT_EQ(inventory[0].page_size(), uint32_t(kPage));
  auto pstree = read_all<img::PstreeEntry>(image::Kind::Pstree);
  ASSERT_EQ(pstree.size(), 1u);
  EXPECT_EQ(pstree[0].pid(), uint32_t(pid));
  EXPECT_EQ(pstree[0].ppid(), 0u);
  ASSERT_EQ(pstree[0].threads_size(), 1);

  // Task state.
  auto core = read_all<img::CoreEntry>(image::Kind::Core, pid);
  ASSERT_EQ(core.size(), 1u);
  const img::ThreadCoreEntry& th = core[0].thread();
  EXPECT_EQ(th.comm(), "dumpee");
  EXPECT_TRUE(th.blocked() & (1ull << (SIGUSR1 - 1)));
  ASSERT_EQ(th.pending_size(), 1);
  siginfo_t si;
  ASSERT_EQ(th.pending(0).siginfo().size(), sizeof(si));
  memcpy(&si, th.pending(0).siginfo().data(), sizeof(si));
  EXPECT_EQ(si.si_signo, SIGUSR1);
  EXPECT_FALSE(th.xsave().empty());
  ASSERT_TRUE(core[0].has_process());
  const img::ProcessCoreEntry& pc = core[0].process();
  EXPECT_EQ(pc.sigactions_size(), 62);
  for (const auto& sa : pc.sigactions())
    if (sa.signo() == SIGUSR2) {
      EXPECT_NE(sa.handler(), 0u);
      EXPECT_TRUE(sa.flags() & SA_RESTART);
    }
  ASSERT_EQ(pc.shared_pending_size(), 1);
  memcpy(&si, pc.shared_pending(0).siginfo().data(), sizeof(si));
  EXPECT_EQ(si.si_signo, SIGUSR2);
  EXPECT_GT(pc.itimer_real().value_sec(), 900u);
  EXPECT_EQ(pc.rlimits(RLIMIT_NOFILE).cur(), 123u);
  EXPECT_EQ(pc.rlimits(RLIMIT_NOFILE).max(), 456u);
  EXPECT_EQ(pc.umask(), 027u);
  auto fs = read_all<img::FsEntry>(image::Kind::Fs, pid);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cwd(), tmp_);
  EXPECT_EQ(fs[0].umask(), 027u);

  // Memory: the areas, and only the pages that hold data.
  auto mm = read_all<img::VmaRecord>(image::Kind::Mm, pid);
  ASSERT_TRUE(mm.size() > 1 && mm[0].has_mm());
  EXPECT_NE(mm[0].mm().brk(), 0u);
  EXPECT_GE(mm[0].mm().brk(), mm[0].mm().start_brk());
  EXPECT_EQ(mm[0].mm().exe().path(), proc::read_link("/proc/self/exe"));
  std::vector<uint8_t> own_vdso = restore::own_vdso_build_id();  // same kernel, same vDSO
  EXPECT_FALSE(own_vdso.empty());
  EXPECT_EQ(mm[0].mm().vdso_build_id(), std::string(own_vdso.begin(), own_vdso.end()));
  EXPECT_NE(mm[0].mm().vdso_start(), 0u);
  const img::VmaEntry* anon = vma_at(mm, areas.anon);
  const img::VmaEntry* file = vma_at(mm, areas.file);
  const img::VmaEntry* shared = vma_at(mm, areas.shared);
  ASSERT_TRUE(anon && file && shared);
  EXPECT_EQ(anon->kind(), img::VMA_ANON_PRIVATE);
  EXPECT_TRUE(anon->has_pages());
  EXPECT_EQ(file->kind(), img::VMA_FILE_PRIVATE);
  EXPECT_EQ(file->file().path(), tmp_ + "/mapped");
  EXPECT_TRUE(file->has_pages());
  EXPECT_EQ(shared->kind(), img::VMA_ANON_SHARED);
  EXPECT_FALSE(shared->has_pages());  // its object's, in shmem-N.img
  ASSERT_TRUE(shared->has_shmem_id());
  for (const auto& r : mm) EXPECT_NE(r.has_vma() ? r.vma().name() : "", "[vsyscall]");

  auto pagemap = read_all<img::PagemapRecord>(image::Kind::Pagemap, pid);
  ASSERT_TRUE(!pagemap.empty() && pagemap[0].has_head());
  EXPECT_EQ(dumped_pages(pagemap, areas.anon, 64),
            (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29}));
  EXPECT_EQ(dumped_pages(pagemap, areas.file, 4), (std::set<int>{1}));
  EXPECT_EQ(dumped_pages(pagemap, areas.shared, 8), (std::set<int>{}));

  // The shared memory object: its size, and its one written page, once.
  auto shmem = read_all<img::ShmemRecord>(image::Kind::Shmem, shared->shmem_id());
  ASSERT_EQ(shmem.size(), 2u);
  ASSERT_TRUE(shmem[0].has_head());
  EXPECT_EQ(shmem[0].head().kind(), img::SHMEM_ANON);
  EXPECT_EQ(shmem[0].head().size(), uint64_t(8 * kPage));
  ASSERT_TRUE(shmem[1].has_run());
  EXPECT_EQ(shmem[1].run().pgoff(), uint64_t(3 * kPage));
  EXPECT_EQ(shmem[1].run().nr_pages(), 1u);
  {
    image::ImageDir dir = image::ImageDir::open(tmp_ + "/images");
    image::PagesFile object = image::open_raw(dir, image::Kind::ShmemPages, shared->shmem_id(), false);
    EXPECT_EQ(object.size, uint64_t(kPage));
    std::string page(size_t(kPage), '\0');
    ASSERT_EQ(pread(object.fd.get(), page.data(), page.size(), 0), ssize_t(kPage));
    EXPECT_EQ(page[0], 'S');
    EXPECT_EQ(page.find_first_not_of('\0', 1), std::string::npos);
  }

  // Every dumped page is the child's, byte for byte, at consecutive offsets.
  image::ImageDir dir = image::ImageDir::open(tmp_ + "/images");
  image::PagesFile pages = image::open_pages(dir, pagemap[0].head().pages_id(), false);
  uint64_t expected_offset = 0;
  std::vector<char> want, got;
  for (const auto& r : pagemap) {
    if (!r.has_run()) continue;
    EXPECT_EQ(r.run().offset(), expected_offset);
    size_t len = r.run().nr_pages() * size_t(kPage);
    want.resize(len);
    got.resize(len);
    iovec local{want.data(), len}, remote{reinterpret_cast<void*>(r.run().vaddr()), len};
    ASSERT_EQ(process_vm_readv(pid, &local, 1, &remote, 1, 0), ssize_t(len));
    ASSERT_EQ(pread(pages.fd.get(), got.data(), len, off_t(r.run().offset())), ssize_t(len));
    // The kernel rewrites the rseq area (cpu_id) whenever the released
    // child comes back to user space on another CPU: not the dump's doing.
    if (th.has_rseq())
      for (uint64_t at = th.rseq().ptr(); at < th.rseq().ptr() + th.rseq().len(); at++)
        if (at >= r.run().vaddr() && at < r.run().vaddr() + len) want[at - r.run().vaddr()] = got[at - r.run().vaddr()];
    if (want != got) {
      size_t diff = 0;
      while (want[diff] == got[diff]) ++diff;
      const img::VmaEntry* vma = vma_at(mm, reinterpret_cast<void*>(r.run().vaddr() + diff));
      ADD_FAILURE() << "the dumped page at " << std::hex << r.run().vaddr() + diff << " (in " << vma->name()
                    << ", kind " << vma->kind() << ") differs from the child's at byte " << (diff % kPage);
    }
    expected_offset += len;
  }
  EXPECT_EQ(pages.size, expected_offset);

  // Files: 5 and 6 share one description.
  auto fdinfo = read_all<img::FdinfoEntry>(image::Kind::Fdinfo, pid);
  auto files = read_all<img::FileEntry>(image::Kind::Files);
  std::map<uint32_t, img::FdinfoEntry> by_fd;
  for (const auto& e : fdinfo) by_fd[e.fd()] = e;
  ASSERT_EQ(by_fd.size(), 6u);  // 0 1 2 5 6 7
  EXPECT_EQ(by_fd[5].id(), by_fd[6].id());
  EXPECT_EQ(by_fd[1].id(), by_fd[2].id());
  EXPECT_FALSE(by_fd[5].cloexec());
  EXPECT_TRUE(by_fd[6].cloexec());
  EXPECT_EQ(files.size(), 4u);  // /dev/null (0), the log, data, /dev/null (7)
  for (const auto& f : files)
    if (f.id() == by_fd[5].id()) {
      EXPECT_EQ(f.kind(), img::FILE_REGULAR);
      EXPECT_EQ(f.reg().identity().path(), data);
      EXPECT_EQ(f.reg().pos(), 4u);
      EXPECT_EQ(f.reg().flags() & O_ACCMODE, uint32_t(O_RDWR));
    }

  // Left running: the child still ends on SIGTERM as it would have.
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = child.wait_end();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST_F(DumpTest, WithoutLeaveRunningTheChildIsKilled) {
  Child child(tmp_, [] {});
  pid_t pid = child.pid();
  run_dump(options(pid, false));
  EXPECT_TRUE(child.ends_within(10000));
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
  EXPECT_TRUE(images().count("inventory.img"));
}

// An io_uring fd stands for any kind ckpt refuses.
TEST_F(DumpTest, RefusedFdLeavesTheChildRunningAndNoImages) {
  Areas areas;
  make_areas(areas, tmp_);
  Child child(tmp_, [] { make_io_uring(kRefusedFd); }, /*keep_pipes=*/true);
  // Every blocker is listed: the io_uring, and the handshake pipes whose
  // other ends are ours, outside the tree.
  std::string err = dump_error(child.pid());
  std::string of_pid = " of pid " + std::to_string(child.pid()) + ": ";
  EXPECT_NE(err.find("fd " + std::to_string(kRefusedFd) + of_pid + "io_uring is not supported yet"), std::string::npos)
      << err;
  EXPECT_NE(err.find("fd " + std::to_string(kReadyFd) + of_pid + "its write end of pipe:["), std::string::npos) << err;
  EXPECT_NE(err.find("is connected to pid " + std::to_string(getpid())), std::string::npos) << err;
  EXPECT_TRUE(images().empty()) << *images().begin();
  EXPECT_FALSE(traced_or_stopped(child.pid()));
  EXPECT_TRUE(child.answers_ping());
  // Its memory is as it was.
  char byte = 0;
  iovec local{&byte, 1}, remote{areas.anon + 20 * kPage, 1};
  ASSERT_EQ(process_vm_readv(child.pid(), &local, 1, &remote, 1, 0), 1);
  EXPECT_EQ(byte, 'a' + 20 % 26);
}

std::string task_status_field(pid_t pid, pid_t tid, const std::string& key) {
  std::string text = proc::read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  size_t at = text.find("\n" + key + ":\t");
  if (at == std::string::npos) return "";
  at += key.size() + 3;
  return text.substr(at, text.find('\n', at) - at);
}

// The one thread of the child that is not its main thread (the child's
// own variables are in its memory, not ours).
pid_t other_thread(pid_t pid) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    pid_t tid = pid_t(std::stoi(e.path().filename().string()));
    if (tid != pid) return tid;
  }
  return 0;
}

// Strict mode leaves a thread nothing but read, write, exit and sigreturn:
// the restorer could not run in it.  The thread is named, and the process
// (the strict thread blocked in read() on a pipe) runs on untouched, still
// strict.
TEST_F(DumpTest, RefusesAStrictSeccompThread) {
  static std::atomic<pid_t> strict{0};
  static int fds[2];
  Child threaded(tmp_, [] {
    if (pipe(fds) != 0) _exit(3);
    pthread_t t;
    pthread_create(&t, nullptr, [](void*) -> void* {
      pid_t tid = pid_t(syscall(SYS_gettid));
      if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) _exit(4);
      strict = tid;  // a store, no syscall
      char c;
      for (;;) (void)!read(fds[0], &c, 1);
    }, nullptr);
    while (!strict) sched_yield();
  });
  pid_t tid = other_thread(threaded.pid());
  std::string err = dump_error(threaded.pid());
  EXPECT_EQ(err, "cannot dump thread " + std::to_string(tid) + " of pid " + std::to_string(threaded.pid()) +
                     ": it runs in strict seccomp mode (SECCOMP_MODE_STRICT), which cannot be restored (the restorer "
                     "could not make a single syscall in it)");
  EXPECT_TRUE(images().empty()) << *images().begin();
  EXPECT_FALSE(traced_or_stopped(threaded.pid()));
  EXPECT_EQ(task_status_field(threaded.pid(), tid, "Seccomp"), "1");
  // Released, it goes back into its read() (it may be caught on the way).
  auto asleep = [&] { return task_status_field(threaded.pid(), tid, "State").substr(0, 1) == "S"; };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!asleep() && std::chrono::steady_clock::now() < deadline) sched_yield();
  EXPECT_TRUE(asleep()) << task_status_field(threaded.pid(), tid, "State");
}

// Filters are saved per thread, the oldest first, with their flags; the
// parasite ran in the filtered thread (its filter refuses what the parasite
// calls) and the released thread is filtered as before.
TEST_F(DumpTest, SavesEachThreadsSeccompFilters) {
  static std::atomic<pid_t> filtered{0};
  // The older filter makes getppid fail, the newer one (LOG) also kills
  // the process on sigaltstack, which the parasite asks in each thread.
  static sock_filter older[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  static sock_filter newer[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sigaltstack, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  Child threaded(tmp_, [] {
    pthread_t t;
    pthread_create(&t, nullptr, [](void*) -> void* {
      pid_t tid = pid_t(syscall(SYS_gettid));
      sock_fprog a{4, older}, b{4, newer};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a) != 0 ||
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &b) != 0)
        _exit(4);
      filtered = tid;
      for (;;) pause();
    }, nullptr);
    while (!filtered) sched_yield();
  });
  pid_t pid = threaded.pid(), tid = other_thread(pid);
  run_dump(options(pid, true));
  // Alive (the parasite's sigaltstack did not kill it), untraced, filtered.
  EXPECT_FALSE(traced_or_stopped(pid));
  EXPECT_EQ(task_status_field(pid, tid, "State").substr(0, 1), "S");
  EXPECT_EQ(task_status_field(pid, tid, "Seccomp"), "2");
  EXPECT_EQ(task_status_field(pid, tid, "Seccomp_filters"), "2");

  auto main_core = read_all<img::CoreEntry>(image::Kind::Core, pid);
  ASSERT_EQ(main_core.size(), 1u);
  EXPECT_EQ(main_core[0].thread().seccomp_mode(), 0u);
  EXPECT_EQ(main_core[0].thread().seccomp_filters_size(), 0);
  auto core = read_all<img::CoreEntry>(image::Kind::Core, tid);
  ASSERT_EQ(core.size(), 1u);
  const img::ThreadCoreEntry& th = core[0].thread();
  EXPECT_EQ(th.seccomp_mode(), 2u);
  ASSERT_EQ(th.seccomp_filters_size(), 2);
  EXPECT_EQ(th.seccomp_filters(0).insns(), std::string(reinterpret_cast<const char*>(older), sizeof(older)));
  EXPECT_EQ(th.seccomp_filters(0).flags(), 0u);
  EXPECT_EQ(th.seccomp_filters(1).insns(), std::string(reinterpret_cast<const char*>(newer), sizeof(newer)));
  EXPECT_EQ(th.seccomp_filters(1).flags(), uint32_t(SECCOMP_FILTER_FLAG_LOG));
  EXPECT_TRUE(th.creds().no_new_privs());
}

}  // namespace

int main(int argc, char** argv) {
  // Grandchildren of the tests are reparented to us and reaped.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
