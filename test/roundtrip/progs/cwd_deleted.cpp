// Deleted working directories across the round trip.
//
//   parent   cwd W/cwd-gone (mode 0751, owner 65534:65534), rmdir'ed; it also
//            holds an fd on it, and one on the file "log" it wrote there
//            (unlinked before the rmdir)
//   child A  cwd W/tree-gone/a/b, and a (mode 0711) and b (0700) both
//            rmdir'ed: a working directory inside a deleted tree; W/tree-gone
//            stays.  It holds the deleted file a/note too.
//   child B  forked after the parent's rmdir: the same deleted cwd, and the
//            parent's fd on it inherited
//   child T  cwd W/cwd-taken, rmdir'ed, and a new directory made at its path:
//            restore makes it next to it (W/cwd-taken.ckpt-ghost-1) and
//            leaves the new one alone
//
// Each checks after the restore: /proc/self/cwd reads "PATH (deleted)", "."
// is a directory without links with its mode and owner, nothing can be made
// in it, the path is free; the parent's and B's cwd and the fd are one
// directory; A's ".." is the deleted a with its mode and "../.." the live
// W/tree-gone.
//
// Under the driver's "refused" mode the parent also holds a deleted file of
// a directory it removed that is no process's cwd: the dump must refuse it
// (restore could not make it where it was).
#include "fslib.h"

#include <fcntl.h>
#include <sys/prctl.h>

#include <string>

namespace {

std::string g_work;

std::string at_work(const char* name) { return g_work + "/" + name; }

void check_not_writable() {
  int fd = open("new-file", O_WRONLY | O_CREAT | O_EXCL, 0600);
  RT_CHECK(fd < 0 && errno == ENOENT, "pid %d: a file could be made in the deleted cwd (errno %d)", getpid(), errno);
}

void check_cwd_gone(int dir_fd) {
  std::string path = at_work("cwd-gone");
  std::string link = rt::read_link("/proc/self/cwd");
  RT_CHECK(link == path + " (deleted)", "pid %d: cwd is %s, want %s (deleted)", getpid(), link.c_str(), path.c_str());
  struct stat dot = rt::stat_of(".");
  rt::check_deleted_dir(".", dot, 0751, 65534, 65534, path);
  struct stat by_fd;
  RT_CHECK(fstat(dir_fd, &by_fd) == 0, "fstat the directory fd");
  RT_CHECK(rt::same_inode(dot, by_fd), "pid %d: the fd and the cwd are not one directory", getpid());
  std::string fd_link = rt::read_link("/proc/self/fd/" + std::to_string(dir_fd));
  RT_CHECK(fd_link == path + " (deleted)", "pid %d: the fd reads %s", getpid(), fd_link.c_str());
  check_not_writable();
}

void check_log(int log) {
  std::string want = at_work("cwd-gone/log") + " (deleted)";
  std::string link = rt::read_link("/proc/self/fd/" + std::to_string(log));
  RT_CHECK(link == want, "the log fd reads %s, want %s", link.c_str(), want.c_str());
  char buf[16] = {};
  RT_CHECK(pread(log, buf, sizeof(buf) - 1, 0) == 5 && strcmp(buf, "hello") == 0, "the log holds '%s'", buf);
  RT_CHECK(lseek(log, 0, SEEK_CUR) == 5, "the log fd is at %ld", long(lseek(log, 0, SEEK_CUR)));
}

void check_taken() {
  std::string path = at_work("cwd-taken"), moved = path + ".ckpt-ghost-1";
  std::string link = rt::read_link("/proc/self/cwd");
  // The original (leave-running) still sits in the first one.
  RT_CHECK(link == path + " (deleted)" || link == moved + " (deleted)", "pid %d: cwd is %s", getpid(), link.c_str());
  rt::check_deleted_dir(".", rt::stat_of("."), 0755, 0, 0, moved);
  struct stat mark;
  RT_CHECK(stat((path + "/mark").c_str(), &mark) == 0, "the new %s lost its file", path.c_str());
}

void check_tree_gone(int note) {
  std::string want = at_work("tree-gone/a/note") + " (deleted)";
  std::string note_link = rt::read_link("/proc/self/fd/" + std::to_string(note));
  RT_CHECK(note_link == want, "child A: the note fd reads %s, want %s", note_link.c_str(), want.c_str());
  char buf[8] = {};
  RT_CHECK(pread(note, buf, sizeof(buf) - 1, 0) == 2 && strcmp(buf, "hi") == 0, "child A: the note holds '%s'", buf);
  std::string path = at_work("tree-gone/a/b");
  std::string link = rt::read_link("/proc/self/cwd");
  RT_CHECK(link == path + " (deleted)", "pid %d: cwd is %s, want %s (deleted)", getpid(), link.c_str(), path.c_str());
  rt::check_deleted_dir(".", rt::stat_of("."), 0700, 0, 0, path);
  rt::check_deleted_dir("..", rt::stat_of(".."), 0711, 0, 0, at_work("tree-gone/a"));
  struct stat top = rt::stat_of("../..");
  RT_CHECK(rt::same_inode(top, rt::stat_of(at_work("tree-gone").c_str())),
           "pid %d: ../.. of the cwd is not %s", getpid(), at_work("tree-gone").c_str());
  check_not_writable();
}

[[noreturn]] void child_a(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string top = at_work("tree-gone"), a = top + "/a", b = a + "/b";
  RT_CHECK(mkdir(top.c_str(), 0755) == 0 && mkdir(a.c_str(), 0711) == 0 && mkdir(b.c_str(), 0700) == 0,
           "mkdir %s: %s", b.c_str(), strerror(errno));
  RT_CHECK(chmod(a.c_str(), 0711) == 0 && chmod(b.c_str(), 0700) == 0, "chmod");
  RT_CHECK(chdir(b.c_str()) == 0, "chdir %s", b.c_str());
  std::string note_path = a + "/note";
  int note = open(note_path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  RT_CHECK(note >= 0 && write(note, "hi", 2) == 2 && unlink(note_path.c_str()) == 0, "the note");
  RT_CHECK(rmdir(b.c_str()) == 0 && rmdir(a.c_str()) == 0, "rmdir %s: %s", b.c_str(), strerror(errno));
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  check_tree_gone(note);
  _exit(0);
}

[[noreturn]] void child_t(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string path = at_work("cwd-taken");
  RT_CHECK(mkdir(path.c_str(), 0755) == 0 && chmod(path.c_str(), 0755) == 0, "mkdir %s", path.c_str());
  RT_CHECK(chdir(path.c_str()) == 0 && rmdir(path.c_str()) == 0, "chdir/rmdir %s", path.c_str());
  RT_CHECK(mkdir(path.c_str(), 0700) == 0, "mkdir %s again", path.c_str());
  int mark = open((path + "/mark").c_str(), O_WRONLY | O_CREAT, 0600);
  RT_CHECK(mark >= 0, "create %s/mark", path.c_str());
  close(mark);
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  check_taken();
  _exit(0);
}

[[noreturn]] void child_b(pid_t parent, int dir_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  check_cwd_gone(dir_fd);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD});
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  g_work = cwd;
  pid_t me = getpid();
  fflush(stdout);
  pid_t a = fork();
  if (a == 0) child_a(me);
  rt::await_signal_from(SIGUSR1, a, "child A set up");
  pid_t t = fork();
  if (t == 0) child_t(me);
  rt::await_signal_from(SIGUSR1, t, "child T set up");

  std::string path = at_work("cwd-gone");
  RT_CHECK(mkdir(path.c_str(), 0700) == 0, "mkdir %s", path.c_str());
  RT_CHECK(chmod(path.c_str(), 0751) == 0 && chown(path.c_str(), 65534, 65534) == 0, "chmod/chown %s", path.c_str());
  RT_CHECK(chdir(path.c_str()) == 0, "chdir %s", path.c_str());
  int dir_fd = open(".", O_RDONLY | O_DIRECTORY);
  RT_CHECK(dir_fd >= 0, "open the cwd");
  int log = open("log", O_RDWR | O_CREAT | O_TRUNC, 0640);
  RT_CHECK(log >= 0 && write(log, "hello", 5) == 5, "write the log");
  RT_CHECK(unlink("log") == 0 && rmdir(path.c_str()) == 0, "unlink the log, rmdir %s", path.c_str());
  pid_t b = fork();
  if (b == 0) child_b(me, dir_fd);
  const char* mode = getenv("CKPT_TEST_MODE");
  int lost = -1;
  if (mode && strcmp(mode, "refused") == 0) {
    std::string gone = at_work("dir-gone");
    RT_CHECK(mkdir(gone.c_str(), 0700) == 0, "mkdir %s", gone.c_str());
    lost = open((gone + "/lost").c_str(), O_RDWR | O_CREAT, 0600);
    RT_CHECK(lost >= 0 && unlink((gone + "/lost").c_str()) == 0 && rmdir(gone.c_str()) == 0, "dir-gone/lost");
  }

  rt::ready();
  rt::wait_term();
  check_cwd_gone(dir_fd);
  check_log(log);
  if (lost >= 0) close(lost);
  rt::check_child_passes(a, "child A");
  rt::check_child_passes(t, "child T");
  rt::check_child_passes(b, "child B");
  rt::pass();
}
