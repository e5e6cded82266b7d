// The file modules: fds of this very process dumped into images and restored
// at other numbers.
#include <fcntl.h>
#include <poll.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "ckpt/error.h"
#include "files/files.h"
#include "files/module.h"
#include "files/objects.h"
#include "files/proc_entry.h"
#include "error_of.h"
#include "files_fixture.h"
#include "image/image.h"

using namespace ckpt;

namespace {

constexpr int kImagePid = test::FilesFixture::kImagePid;

class FilesTest : public test::FilesFixture {};

using test::error_of;

TEST_F(FilesTest, RegularFilesKeepSharedDescriptionsPositionsAndCloexec) {
  std::string path = tmp_ + "/data";
  int a = open_file(path, O_RDWR | O_CREAT);
  ASSERT_EQ(write(a, "hello world", 11), 11);
  ASSERT_EQ(lseek(a, 5, SEEK_SET), 5);
  int b = keep(fcntl(a, F_DUPFD_CLOEXEC, 0));      // same description, close-on-exec
  int c = open_file(path, O_RDONLY | O_APPEND);     // another description
  ASSERT_EQ(lseek(c, 2, SEEK_SET), 2);

  files::FileTable table({});
  auto fdinfo = dump(table, {a, b, c});
  ASSERT_EQ(table.entries().size(), 2u);
  ASSERT_EQ(fdinfo.size(), 3u);
  EXPECT_EQ(fdinfo[0].id(), fdinfo[1].id());
  EXPECT_NE(fdinfo[0].id(), fdinfo[2].id());
  EXPECT_FALSE(fdinfo[0].cloexec());
  EXPECT_TRUE(fdinfo[1].cloexec());
  const img::FileEntry& first = table.entries()[0];
  EXPECT_EQ(first.kind(), img::FILE_REGULAR);
  EXPECT_EQ(first.reg().identity().path(), path);
  EXPECT_EQ(first.reg().identity().size(), 11u);
  EXPECT_EQ(first.reg().pos(), 5u);
  EXPECT_EQ(first.reg().flags() & O_ACCMODE, uint32_t(O_RDWR));
  EXPECT_EQ(first.reg().flags() & O_CLOEXEC, 0u);
  EXPECT_TRUE(S_ISREG(first.reg().mode()));

  write_images(table, fdinfo, {{a, 200}, {b, 201}, {c, 202}});
  EXPECT_EQ(files::max_fd(images(), kImagePid), 202);
  files::check_files(images(), kImagePid, {});
  files::restore_fds(images(), kImagePid, {});

  struct stat want, got;
  ASSERT_EQ(stat(path.c_str(), &want), 0);
  ASSERT_EQ(fstat(200, &got), 0);
  EXPECT_EQ(got.st_ino, want.st_ino);
  EXPECT_TRUE(same_description(200, 201));
  EXPECT_FALSE(same_description(200, 202));
  EXPECT_FALSE(same_description(200, a));  // reopened, not inherited
  EXPECT_FALSE(cloexec(200));
  EXPECT_TRUE(cloexec(201));
  EXPECT_EQ(pos(200), 5);
  EXPECT_EQ(pos(202), 2);
  EXPECT_EQ(fcntl(200, F_GETFL) & O_ACCMODE, O_RDWR);
  EXPECT_TRUE(fcntl(202, F_GETFL) & O_APPEND);
  // The offset is shared again: moving one moves the other.
  ASSERT_EQ(lseek(201, 7, SEEK_SET), 7);
  EXPECT_EQ(pos(200), 7);
  char buf[5] = {};
  ASSERT_EQ(read(200, buf, 4), 4);
  EXPECT_EQ(std::string(buf), "orld");
}

TEST_F(FilesTest, ManyDescriptionsAreGroupedExactlyByKcmp) {
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) fds.push_back(open_file("/dev/null", O_RDONLY));
  // Dups of every third, in reverse order, interleaved with the originals.
  for (int i = 39; i >= 0; i -= 3) fds.insert(fds.begin() + i, keep(dup(fds[size_t(i)])));
  files::FileTable table({});
  auto fdinfo = dump(table, fds);
  ASSERT_EQ(fdinfo.size(), fds.size());
  EXPECT_EQ(table.entries().size(), 40u);
  for (size_t a = 0; a < fds.size(); ++a)
    for (size_t b = 0; b < fds.size(); ++b)
      EXPECT_EQ(fdinfo[a].id() == fdinfo[b].id(), same_description(fds[a], fds[b])) << fds[a] << " " << fds[b];
}

TEST_F(FilesTest, ReplacedFileIsRefusedAndGrownFileIsAccepted) {
  std::string path = tmp_ + "/log";
  int a = open_file(path, O_WRONLY | O_CREAT | O_APPEND);
  files::FileTable table({});
  auto fdinfo = dump(table, {a});
  write_images(table, fdinfo, {{a, 210}});

  ASSERT_EQ(write(a, "grown", 5), 5);  // a log grows: only a warning
  files::check_files(images(), kImagePid, {});
  files::restore_fds(images(), kImagePid, {});
  EXPECT_TRUE(fcntl(210, F_GETFL) & O_APPEND);
  close(210);

  ASSERT_EQ(unlink(path.c_str()), 0);  // another file at the same path
  open_file(path, O_WRONLY | O_CREAT);
  std::string want = "cannot restore fd 210 of pid 4242: " + path + ": it is no longer the file that was dumped";
  EXPECT_EQ(error_of([&] { files::check_files(images(), kImagePid, {}); }).substr(0, want.size()), want);
  EXPECT_EQ(error_of([&] { files::restore_fds(images(), kImagePid, {}); }).substr(0, want.size()), want);
  EXPECT_EQ(fcntl(210, F_GETFD), -1);  // nothing placed

  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(error_of([&] { files::check_files(images(), kImagePid, {}); }),
            "cannot restore fd 210 of pid 4242: " + path + ": No such file or directory");
}

TEST_F(FilesTest, DevNullAndDirectoryAreReopened) {
  int null = open_file("/dev/null", O_WRONLY);
  int dir = open_file(tmp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  files::FileTable table({});
  auto fdinfo = dump(table, {null, dir});
  ASSERT_EQ(table.entries().size(), 2u);
  EXPECT_EQ(table.entries()[0].kind(), img::FILE_CHRDEV);
  EXPECT_EQ(table.entries()[0].chrdev().path(), "/dev/null");
  EXPECT_EQ(table.entries()[1].kind(), img::FILE_DIRECTORY);
  write_images(table, fdinfo, {{null, 220}, {dir, 221}});
  files::restore_fds(images(), kImagePid, {});
  struct stat st;
  ASSERT_EQ(fstat(220, &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(fcntl(220, F_GETFL) & O_ACCMODE, O_WRONLY);
  ASSERT_EQ(fstat(221, &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(cloexec(221));
}

TEST(ProcEntry, TheProcessAndThreadAPathNames) {
  auto t = files::proc_target("/proc/123/status");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->pid, 123);
  EXPECT_EQ(t->tid, 123);
  t = files::proc_target("/proc/123");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->pid, 123);
  t = files::proc_target("/proc/123/task/456/stat");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->pid, 123);
  EXPECT_EQ(t->tid, 456);
  t = files::proc_target("/proc/123/task");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tid, 123);
  for (const char* other : {"/proc/meminfo", "/proc/sys/kernel/pid_max", "/proc/12x/status", "/proc/", "/proc2/1",
                            "/tmp/proc/1", "/proc/0/status"})
    EXPECT_FALSE(files::proc_target(other)) << other;
}

// Our own /proc entries, as a process of the dumped tree: no identity
// check (a restored process has new inodes), opened by path.  As a process
// outside the tree: its start time, and refused once it is another.
TEST_F(FilesTest, ProcEntriesOfTheTreeAndOutsideIt) {
  std::string own = "/proc/" + std::to_string(getpid()) + "/status";
  int status = open_file(own, O_RDONLY);
  char nine[9];
  ASSERT_EQ(read(status, nine, sizeof(nine)), 9);
  files::TreeTasks tree;
  tree.processes.insert(getpid());
  files::FileTable in_tree({.tree = &tree});
  auto fdinfo = dump(in_tree, {status});
  ASSERT_EQ(in_tree.entries().size(), 1u);
  const img::RegFileEntry& reg = in_tree.entries()[0].reg();
  EXPECT_EQ(reg.identity().path(), own);
  EXPECT_EQ(reg.proc_pid(), uint32_t(getpid()));
  EXPECT_TRUE(reg.proc_in_tree());
  EXPECT_FALSE(reg.has_proc_start_time());
  write_images(in_tree, fdinfo, {{status, 230}});
  files::check_files(images(), kImagePid, {});
  files::restore_fds(images(), kImagePid, {});
  EXPECT_EQ(pos(230), 9);
  EXPECT_FALSE(same_description(230, status));

  files::FileTable outside({});
  dump(outside, {status});
  img::FileEntry e = outside.entries()[0];
  EXPECT_FALSE(e.reg().proc_in_tree());
  EXPECT_GT(e.reg().proc_start_time(), 0u);
  EXPECT_EQ(error_of([&] { files::module_of(e.kind()).check(e, {}); }), "no error");
  e.mutable_reg()->set_proc_start_time(e.reg().proc_start_time() + 1);
  EXPECT_NE(error_of([&] { files::module_of(e.kind()).check(e, {}); }).find("is now another process"), std::string::npos);

  // A thread of the tree other than a main thread is refused by name.
  files::TreeTasks threads;
  threads.processes.insert(1);
  threads.threads.insert(getpid());
  files::FileTable of_thread({.tree = &threads});
  EXPECT_NE(error_of([&] { dump(of_thread, {status}); }).find("a thread other than a main thread"),
            std::string::npos);
}

TEST_F(FilesTest, UnsupportedKindsAreRefusedByName) {
  io_uring_params params{};
  int ring = keep(int(syscall(SYS_io_uring_setup, 4, &params)));
  ASSERT_GE(ring, 0);
  int sock = keep(socket(AF_VSOCK, SOCK_STREAM, 0));  // unix sockets are supported
  int uffd = keep(int(syscall(SYS_userfaultfd, O_CLOEXEC)));
  std::string deleted = tmp_ + "/deleted";
  int del = open_file(deleted, O_RDWR | O_CREAT);
  ASSERT_EQ(unlink(deleted.c_str()), 0);

  auto refusal = [&](int fd) {
    files::FileTable table({});
    return error_of([&] { dump(table, {fd}); });
  };
  std::string prefix = "cannot dump fd ";
  std::string of_pid = " of pid " + std::to_string(getpid()) + ": ";
  EXPECT_EQ(refusal(ring), prefix + std::to_string(ring) + of_pid + "io_uring is not supported yet");
  EXPECT_EQ(refusal(sock), prefix + std::to_string(sock) + of_pid + "AF_VSOCK stream socket is not supported yet");
  EXPECT_EQ(refusal(uffd), prefix + std::to_string(uffd) + of_pid + "userfaultfd is not supported yet");
  // Without the dump's registry of shared objects (files/objects.h).
  EXPECT_EQ(refusal(del),
            prefix + std::to_string(del) + of_pid + deleted + " was deleted; deleted files are not supported here");
}

// Both ends of a unix socket pair: one group, each the other's pair, the
// data queued in one kept (and still there: it is only peeked).
TEST_F(FilesTest, AUnixSocketPairIsOneGroupWithItsQueue) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  keep(sv[0]);
  keep(sv[1]);
  ASSERT_EQ(send(sv[0], "ab", 2, 0), 2);
  ASSERT_EQ(send(sv[0], "", 0, 0), 0);
  files::FileTable table({});
  std::vector<img::FdinfoEntry> fds = dump(table, {sv[0], sv[1]});
  table.finish({{getpid(), 0}});
  ASSERT_EQ(table.entries().size(), 2u);
  const img::FileEntry& a = table.entries()[0];
  const img::FileEntry& b = table.entries()[1];
  ASSERT_EQ(a.kind(), img::FILE_UNIX_SOCKET);
  EXPECT_EQ(a.group(), a.id());
  EXPECT_EQ(b.group(), a.id());
  EXPECT_EQ(a.unix_sk().pair(), b.id());
  EXPECT_EQ(b.unix_sk().pair(), a.id());
  ASSERT_EQ(b.unix_sk().queue_size(), 2);
  EXPECT_EQ(b.unix_sk().queue(0).data(), "ab");
  EXPECT_EQ(b.unix_sk().queue(1).data(), "");
  char buf[4];
  EXPECT_EQ(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 2);  // not consumed
}

// A registry that records what it was asked for, as the dump's does.
struct FakeObjects : files::DumpObjects {
  std::vector<std::string> memfds, ghosts;
  uint32_t memfd(const files::OpenFd& fd) override {
    memfds.push_back(fd.link);
    return 7;
  }
  uint32_t ghost(const files::OpenFd& fd) override {
    if (fd.st.st_size > 100) throw Error("too big");
    ghosts.push_back(fd.link);
    return 9;
  }
};

TEST_F(FilesTest, MemfdAndDeletedFileNameTheirObjects) {
  int memfd = keep(memfd_create("files-test", 0));
  ASSERT_EQ(write(memfd, "abcdef", 6), 6);
  ASSERT_EQ(lseek(memfd, 2, SEEK_SET), 2);
  std::string deleted = tmp_ + "/deleted";
  int del = open_file(deleted, O_RDWR | O_CREAT | O_APPEND);
  ASSERT_EQ(write(del, "xyz", 3), 3);
  ASSERT_EQ(unlink(deleted.c_str()), 0);
  int del_dup = keep(dup(del));  // one description: one entry

  FakeObjects objects;
  files::FileTable table({.objects = &objects});
  auto fdinfo = dump(table, {memfd, del, del_dup});
  ASSERT_EQ(table.entries().size(), 2u);
  EXPECT_EQ(objects.memfds, std::vector<std::string>{"/memfd:files-test (deleted)"});
  EXPECT_EQ(objects.ghosts, std::vector<std::string>{deleted + " (deleted)"});
  const img::FileEntry& m = table.entries()[0];
  EXPECT_EQ(m.kind(), img::FILE_MEMFD);
  EXPECT_EQ(m.memfd().shmem_id(), 7u);
  EXPECT_EQ(m.memfd().pos(), 2u);
  EXPECT_EQ(m.memfd().flags() & O_ACCMODE, uint32_t(O_RDWR));
  const img::FileEntry& g = table.entries()[1];
  EXPECT_EQ(g.kind(), img::FILE_GHOST);
  EXPECT_EQ(g.reg().ghost_id(), 9u);
  EXPECT_EQ(g.reg().identity().path(), deleted);
  EXPECT_EQ(g.reg().pos(), 3u);

  // Restored from the objects restore made (here: the originals), each a
  // description of its own with the dumped offset and flags.
  write_images(table, fdinfo, {{memfd, 230}, {del, 231}, {del_dup, 232}});
  files::RestoreObjects restored{{{7, memfd}}, {{9, del}}};
  files::restore_fds(images(), kImagePid, {.objects = &restored});
  struct stat a, b;
  ASSERT_EQ(fstat(230, &a), 0);
  ASSERT_EQ(fstat(memfd, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(lseek(230, 0, SEEK_CUR), 2);
  EXPECT_EQ(lseek(memfd, 0, SEEK_CUR), 2);  // not the original's description
  ASSERT_EQ(lseek(230, 0, SEEK_SET), 0);
  EXPECT_EQ(lseek(memfd, 0, SEEK_CUR), 2);
  ASSERT_EQ(fstat(231, &a), 0);
  ASSERT_EQ(fstat(del, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(lseek(231, 0, SEEK_CUR), 3);
  EXPECT_TRUE(fcntl(231, F_GETFL) & O_APPEND);
  EXPECT_EQ(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 231, 232), 0);  // still one description

  // Without the objects, the fd is refused by name.
  files::RestoreObjects none;
  EXPECT_NE(error_of([&] { files::restore_fds(images(), kImagePid, {.objects = &none}); })
                .find("its memfd (shared memory object 7) was not restored"),
            std::string::npos);

  // The registry's refusal is the fd's.
  std::string big = tmp_ + "/big";
  int big_fd = open_file(big, O_RDWR | O_CREAT);
  ASSERT_EQ(ftruncate(big_fd, 1000), 0);
  ASSERT_EQ(unlink(big.c_str()), 0);
  files::FileTable refusing({.objects = &objects});
  EXPECT_EQ(error_of([&] { dump(refusing, {big_fd}); }),
            "cannot dump fd " + std::to_string(big_fd) + " of pid " + std::to_string(getpid()) + ": too big");
}

TEST_F(FilesTest, TerminalNeedsShellJobAndTakesOurStdio) {
  int master = keep(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int tty = open_file(ptsname(master), O_RDWR | O_NOCTTY);

  files::FileTable plain({});
  EXPECT_EQ(error_of([&] { dump(plain, {tty}); }),
            "cannot dump fd " + std::to_string(tty) + " of pid " + std::to_string(getpid()) +
                ": it is a terminal (use --shell-job)");
  // The master end is not a job's stdio: a pty made in the tree (pty.cpp).
  dump(plain, {master});
  EXPECT_EQ(plain.entries().back().kind(), img::FILE_PTY);

  files::FileTable shell({.shell_job = true});
  auto fdinfo = dump(shell, {tty});
  ASSERT_EQ(shell.entries().size(), 1u);
  EXPECT_EQ(shell.entries()[0].kind(), img::FILE_TTY_STDIO);
  EXPECT_EQ(shell.entries()[0].tty().path(), ptsname(master));
  write_images(shell, fdinfo, {{tty, 230}});

  EXPECT_EQ(error_of([&] { files::restore_fds(images(), kImagePid, {}); }),
            "cannot restore fd 230 of pid 4242: it was a terminal (" + std::string(ptsname(master)) +
                "); restore with --shell-job");
  if (fcntl(0, F_GETFD) < 0) GTEST_SKIP() << "no fd 0 to stand in for the terminal";
  files::restore_fds(images(), kImagePid, {.shell_job = true});
  EXPECT_TRUE(same_description(230, 0));  // a terminal above fd 2 takes our fd 0
}

// A slave whose master the tree holds is a pty, not a terminal: restored
// as a new pair, the slave opened from the master, with the line queued
// for the slave.
TEST_F(FilesTest, PtyOfTheTreeIsMadeAnew) {
  int master = keep(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_EQ(unlockpt(master), 0);
  int slave = open_file(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_EQ(write(master, "q\n", 2), 2);
  files::TreeTasks tree{{getpid()}, {}};
  files::FileTable table({.tree = &tree});
  auto fdinfo = dump(table, {master, slave});
  table.finish({});
  ASSERT_EQ(table.entries().size(), 2u);
  const img::FileEntry& m = table.entries()[0];
  const img::FileEntry& s = table.entries()[1];
  EXPECT_EQ(s.kind(), img::FILE_PTY);
  EXPECT_FALSE(s.pty().master());
  ASSERT_EQ(s.needs_size(), 1);
  EXPECT_EQ(s.needs(0), m.id());
  EXPECT_TRUE(m.has_pty() && m.pty().has_termios());
  EXPECT_EQ(m.pty().input(), "q\n");
  auto readable = [](int fd) {
    struct pollfd p {fd, POLLIN, 0};
    return poll(&p, 1, 5000) == 1;
  };
  char line[8];
  ASSERT_TRUE(readable(slave)) << "the dump took the queued line";
  ASSERT_EQ(read(slave, line, sizeof(line)), 2);
  write_images(table, fdinfo, {{master, 230}, {slave, 231}});
  files::restore_fds(images(), kImagePid, {});
  ASSERT_TRUE(readable(231)) << "the restored slave has no line";
  ASSERT_EQ(read(231, line, sizeof(line)), 2);
  EXPECT_EQ(std::string(line, 2), "q\n");
}

TEST_F(FilesTest, MissingFileEntryIsACorruptedImage) {
  {
    image::ImageWriter files(*dir_, image::Kind::Files);
    files.commit();
    image::ImageWriter fds(*dir_, image::Kind::Fdinfo, kImagePid);
    img::FdinfoEntry e;
    e.set_fd(3);
    e.set_id(9);
    e.set_cloexec(false);
    fds.write(e);
    fds.commit();
  }
  std::string err = error_of([&] { files::restore_fds(images(), kImagePid, {}); });
  EXPECT_NE(err.find("corrupted image"), std::string::npos) << err;
  EXPECT_NE(err.find("no file 9 for fd 3 of pid 4242"), std::string::npos) << err;
}

}  // namespace

namespace {

// A child of the test that holds fds of its own until the test ends: its fd
// `shared` is inherited (one description with the test's), its fd `own()`
// is its own open of the same file.
class FdHolder {
 public:
  FdHolder(const std::string& path, int shared) : shared_(shared) {
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) throw sys_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw sys_error("fork");
    if (pid_ == 0) {
      close(ready[0]);
      close(done[1]);
      int own = open(path.c_str(), O_RDONLY);
      char c = char(own);
      if (own < 0 || write(ready[1], &c, 1) != 1) _exit(1);
      read(done[0], &c, 1);  // until the test closes its end (or dies)
      _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    done_.reset(done[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) throw Error("the fd holder did not start");
    close(ready[0]);
    own_ = c;
  }
  ~FdHolder() {
    done_.reset();
    int status;
    waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }
  int own() const { return own_; }
  // A duplicate of its fd `fd`, as the parasite would steal it.
  UniqueFd steal(int fd) const {
    UniqueFd pidfd(int(syscall(SYS_pidfd_open, pid_, 0)));
    if (!pidfd) throw sys_error("pidfd_open");
    UniqueFd copy(int(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (!copy) throw sys_error("pidfd_getfd");
    return copy;
  }

 private:
  pid_t pid_ = -1;
  int shared_, own_ = -1;
  UniqueFd done_;
};

// Waits for a child, up to 10 s; its wait status or -1.
int reap_within_10s(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

TEST_F(FilesTest, ADescriptionInheritedByAChildIsOneEntryOfTheTree) {
  std::string path = tmp_ + "/out.txt";
  int out = open_file(path, O_WRONLY | O_CREAT | O_APPEND);
  ASSERT_EQ(write(out, "line\n", 5), 5);
  FdHolder child(path, out);

  // The test is the parent, dumped first; the child's fds come next, stolen
  // from it, through the same table.
  files::FileTable table({});
  auto parent_fds = dump(table, {out});
  std::vector<files::OpenFd> child_open;
  child_open.push_back(files::describe_fd(child.pid(), out, child.steal(out)));
  child_open.push_back(files::describe_fd(child.pid(), child.own(), child.steal(child.own())));
  auto child_fds = table.add_process(child.pid(), child.pid(), child_open);

  ASSERT_EQ(table.entries().size(), 2u);
  ASSERT_EQ(child_fds.size(), 2u);
  EXPECT_EQ(child_fds[0].id(), parent_fds[0].id());  // fork shared it: one entry
  EXPECT_NE(child_fds[1].id(), parent_fds[0].id());  // its own open: another
  EXPECT_EQ(syscall(SYS_kcmp, getpid(), child.pid(), KCMP_FILE, out, out), 0);
  EXPECT_NE(syscall(SYS_kcmp, getpid(), child.pid(), KCMP_FILE, out, child.own()), 0);
  for (const img::FileEntry& e : table.entries()) {
    EXPECT_EQ(e.kind(), img::FILE_REGULAR);
    EXPECT_EQ(e.reg().identity().path(), path);
  }
}

TEST_F(FilesTest, OpenedOnceInstalledInTwoProcessesSharesTheOffset) {
  std::string path = tmp_ + "/log";
  int log = open_file(path, O_RDWR | O_CREAT);
  ASSERT_EQ(write(log, "0123456789", 10), 10);
  ASSERT_EQ(lseek(log, 4, SEEK_SET), 4);
  int null = open_file("/dev/null", O_RDONLY);
  files::FileTable table({});
  auto fdinfo = dump(table, {log, null});
  write_files(table);
  // Two processes: 4242 has the log at 240 and /dev/null at 241, 4243 has
  // the log at 241 (where the other has /dev/null) and 245.
  write_fdinfo(kImagePid, fdinfo, {{log, 240}, {null, 241}});
  std::vector<img::FdinfoEntry> other = {fdinfo[0], fdinfo[0]};
  other[1].set_cloexec(true);
  {
    image::ImageWriter fds(*dir_, image::Kind::Fdinfo, kImagePid + 1);
    other[0].set_fd(241);
    other[1].set_fd(245);
    for (const auto& e : other) fds.write(e);
    fds.commit();
  }
  uint32_t log_id = fdinfo[0].id(), null_id = fdinfo[1].id();
  EXPECT_EQ(files::file_ids_of(images(), kImagePid), (std::set<uint32_t>{log_id, null_id}));
  EXPECT_EQ(files::file_ids_of(images(), kImagePid + 1), (std::set<uint32_t>{log_id}));

  std::map<uint32_t, UniqueFd> opened = files::open_files(images(), {log_id, null_id}, {}, 300);
  ASSERT_EQ(opened.size(), 2u);
  std::map<uint32_t, int> raw;
  for (auto& [id, fd] : opened) {
    EXPECT_GE(fd.get(), 300);
    EXPECT_TRUE(cloexec(fd.get()));
    raw[id] = fd.get();
  }
  EXPECT_EQ(pos(raw[log_id]), 4);

  // The child installs its fds from the inherited descriptions and writes
  // through one of them; the parent installs its own and sees the offset move.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      files::install_fds(images(), kImagePid + 1, raw, {});
    } catch (...) {
      _exit(2);
    }
    bool ok = !cloexec(241) && cloexec(245) && write(245, "ab", 2) == 2;
    _exit(ok ? 0 : 3);
  }
  int status = reap_within_10s(pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  files::install_fds(images(), kImagePid, raw, {});
  EXPECT_EQ(pos(240), 6);
  EXPECT_EQ(pos(raw[log_id]), 6);
  EXPECT_TRUE(same_description(240, raw[log_id]));
  struct stat st;
  ASSERT_EQ(fstat(241, &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  close(245);
}

TEST_F(FilesTest, InstallFdsMovesOpenedFdsOutOfTheWayAndNamesMissingOnes) {
  std::string path = tmp_ + "/data";
  int a = open_file(path, O_RDWR | O_CREAT);
  int b = open_file(path, O_RDONLY);
  files::FileTable table({});
  auto fdinfo = dump(table, {a, b});
  write_images(table, fdinfo, {{a, 250}, {b, 251}});
  uint32_t a_id = fdinfo[0].id(), b_id = fdinfo[1].id();
  // Opened at each other's target numbers: placing one must not close the
  // other before it is placed.
  auto opened = files::open_files(images(), {a_id, b_id}, {}, 300);
  ASSERT_EQ(dup3(opened[a_id].get(), 251, O_CLOEXEC), 251);
  ASSERT_EQ(dup3(opened[b_id].get(), 250, O_CLOEXEC), 250);
  files::install_fds(images(), kImagePid, {{a_id, 251}, {b_id, 250}}, {});
  EXPECT_TRUE(same_description(250, opened[a_id].get()));
  EXPECT_TRUE(same_description(251, opened[b_id].get()));

  EXPECT_EQ(error_of([&] { files::install_fds(images(), kImagePid, {{a_id, 250}}, {}); }),
            "cannot restore fd 251 of pid 4242: its file " + std::to_string(b_id) + " was not opened");
  std::string err = error_of([&] { files::open_files(images(), {77}, {}, 300); });
  EXPECT_NE(err.find("no file 77"), std::string::npos) << err;
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(error_of([&] { files::open_files(images(), {a_id}, {}, 300); }),
            "cannot restore file " + std::to_string(a_id) + " (regular file): cannot open " + path +
                ": No such file or directory");
}

TEST_F(FilesTest, TerminalsAreNotSharedByIdButInstalledPerFd) {
  int master = keep(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int tty = open_file(ptsname(master), O_RDWR | O_NOCTTY);
  int null = open_file("/dev/null", O_RDONLY);
  files::FileTable table({.shell_job = true});
  auto fdinfo = dump(table, {tty, null});
  write_images(table, fdinfo, {{tty, 260}, {null, 261}});
  uint32_t tty_id = fdinfo[0].id(), null_id = fdinfo[1].id();
  EXPECT_EQ(files::file_ids_of(images(), kImagePid), std::set<uint32_t>{null_id});
  EXPECT_NE(error_of([&] { files::open_files(images(), {tty_id}, {.shell_job = true}, 300); })
                .find("install_fds() makes each of its fds"),
            std::string::npos);
  if (fcntl(0, F_GETFD) < 0) GTEST_SKIP() << "no fd 0 to stand in for the terminal";
  auto opened = files::open_files(images(), {null_id}, {.shell_job = true}, 300);
  files::install_fds(images(), kImagePid, {{null_id, opened[null_id].get()}}, {.shell_job = true});
  EXPECT_TRUE(same_description(260, 0));
  EXPECT_TRUE(same_description(261, opened[null_id].get()));
}

}  // namespace

// Groups and needs, the generic part of the module interface: whatever the
// kind, a group is opened by one call and a needed file before its needer.
class FilesGroupsTest : public FilesTest {
 protected:
  // Three regular files a, b, c dumped from one process, their entries
  // edited by `edit` before the images are written.
  std::vector<uint32_t> three_files(const std::function<void(std::vector<img::FileEntry>&)>& edit) {
    std::vector<int> fds;
    for (const char* name : {"/a", "/b", "/c"}) fds.push_back(open_file(tmp_ + name, O_RDWR | O_CREAT));
    files::FileTable table({});
    auto fdinfo = dump(table, fds);
    std::vector<img::FileEntry> entries = table.entries();
    edit(entries);
    write_files(entries);
    write_fdinfo(kImagePid, fdinfo, {{fds[0], 300}, {fds[1], 301}, {fds[2], 302}});
    return {fdinfo[0].id(), fdinfo[1].id(), fdinfo[2].id()};
  }
};

TEST_F(FilesGroupsTest, AGroupAndWhatItNeedsComeAlong) {
  std::vector<uint32_t> id = three_files([](std::vector<img::FileEntry>& e) {
    e[1].set_group(e[0].id());        // a and b: one group
    e[0].add_needs(e[2].id());        // a needs c
  });
  files::FilesImage image = images();
  EXPECT_EQ(image.group_of(id[1]), (std::vector<uint32_t>{id[0], id[1]}));
  EXPECT_EQ(image.group_id(id[1]), id[0]);
  EXPECT_EQ(image.group_id(id[2]), id[2]);
  EXPECT_EQ(files::with_groups_and_needs(image, {id[1]}), (std::set<uint32_t>{id[0], id[1], id[2]}));
  EXPECT_EQ(files::with_groups_and_needs(image, {id[2]}), (std::set<uint32_t>{id[2]}));
  // Asked for b alone, the whole group is opened, after what it needs.
  auto opened = files::open_files(image, files::with_groups_and_needs(image, {id[1]}), {}, 400);
  EXPECT_EQ(opened.size(), 3u);
  // What the process has already is not opened again.
  auto more = files::open_files(image, {id[0], id[1], id[2]}, {}, 400, {{id[2], opened[id[2]].get()}});
  EXPECT_EQ(more.size(), 2u);
  EXPECT_FALSE(more.count(id[2]));
}

TEST_F(FilesGroupsTest, ACycleOfNeedsIsAnErrorNotALoop) {
  std::vector<uint32_t> id = three_files([](std::vector<img::FileEntry>& e) {
    e[0].add_needs(e[1].id());
    e[1].add_needs(e[0].id());
  });
  files::FilesImage image = images();
  std::string err = error_of([&] { files::open_files(image, {id[0], id[1]}, {}, 400); });
  EXPECT_NE(err.find("needs itself"), std::string::npos) << err;
}

TEST_F(FilesGroupsTest, BrokenGroupsAndNeedsAreCorruptedImages) {
  three_files([](std::vector<img::FileEntry>& e) { e[1].set_group(999); });
  std::string err = error_of([&] { images(); });
  EXPECT_NE(err.find("corrupted image"), std::string::npos) << err;
  EXPECT_NE(err.find("which is not a group"), std::string::npos) << err;
}

TEST_F(FilesGroupsTest, ANeedOfNoFileIsACorruptedImage) {
  three_files([](std::vector<img::FileEntry>& e) { e[2].add_needs(12345); });
  std::string err = error_of([&] { images(); });
  EXPECT_NE(err.find("needs file 12345, which is not there"), std::string::npos) << err;
}

TEST_F(FilesGroupsTest, AGroupOfTwoKindsIsACorruptedImage) {
  three_files([](std::vector<img::FileEntry>& e) {
    e[1].set_group(e[0].id());
    e[1].set_kind(img::FILE_DIRECTORY);
  });
  std::string err = error_of([&] { images(); });
  EXPECT_NE(err.find("of another kind"), std::string::npos) << err;
}
