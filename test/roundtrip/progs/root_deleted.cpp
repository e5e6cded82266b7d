// A deleted root across the round trip.
//
//   parent  outside, looks at its child through /proc after the restore
//   child   chroot W/root-gone (mode 0755), cwd /sub (0750) inside it; sub
//           rmdir'ed from inside, root-gone from outside (through an fd on W
//           taken before the chroot): its root and its cwd are deleted, and
//           the cwd's parent is the root
//
// After the restore the child checks "/" and "." are deleted directories with
// their modes, ".." of the cwd is the root and "/.." the root itself (no way
// out), nothing can be made in either; the parent that /proc/CHILD/root and
// cwd read "W/root-gone (deleted)" and "W/root-gone/sub (deleted)", and that
// both paths are free.
#include "fslib.h"

#include <fcntl.h>
#include <sys/prctl.h>

#include <string>

namespace {

[[noreturn]] void child(pid_t parent, const std::string& work) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string root = work + "/root-gone", sub = root + "/sub";
  RT_CHECK(mkdir(root.c_str(), 0755) == 0 && mkdir(sub.c_str(), 0750) == 0, "mkdir %s: %s", sub.c_str(),
           strerror(errno));
  RT_CHECK(chmod(root.c_str(), 0755) == 0 && chmod(sub.c_str(), 0750) == 0, "chmod");
  int work_fd = open(work.c_str(), O_PATH | O_DIRECTORY);
  RT_CHECK(work_fd >= 0, "open %s", work.c_str());
  RT_CHECK(chroot(root.c_str()) == 0, "chroot %s: %s", root.c_str(), strerror(errno));
  RT_CHECK(chdir("/sub") == 0, "chdir /sub");
  RT_CHECK(rmdir("/sub") == 0, "rmdir /sub: %s", strerror(errno));
  RT_CHECK(unlinkat(work_fd, "root-gone", AT_REMOVEDIR) == 0, "rmdir the root: %s", strerror(errno));
  close(work_fd);
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");

  struct stat slash = rt::stat_of("/"), dot = rt::stat_of(".");
  rt::check_deleted_dir("/", slash, 0755, 0, 0, "");
  rt::check_deleted_dir(".", dot, 0750, 0, 0, "");
  RT_CHECK(rt::same_inode(rt::stat_of(".."), slash), "child: .. of the cwd is not the root");
  RT_CHECK(rt::same_inode(rt::stat_of("/.."), slash), "child: /.. is not the root: the chroot can be left");
  RT_CHECK(!rt::same_inode(dot, slash), "child: the cwd is the root");
  for (const char* name : {"/new-file", "new-file"}) {
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    RT_CHECK(fd < 0 && errno == ENOENT, "child: %s could be made (errno %d)", name, errno);
  }
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD});
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  std::string work = cwd;
  pid_t me = getpid();
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) child(me, work);
  rt::await_signal_from(SIGUSR1, c, "the child set up");

  rt::ready();
  rt::wait_term();
  std::string proc = "/proc/" + std::to_string(c);
  std::string root = rt::read_link(proc + "/root"), at = rt::read_link(proc + "/cwd");
  RT_CHECK(root == work + "/root-gone (deleted)", "the child's root is %s", root.c_str());
  RT_CHECK(at == work + "/root-gone/sub (deleted)", "the child's cwd is %s", at.c_str());
  struct stat st;
  RT_CHECK(stat((work + "/root-gone").c_str(), &st) < 0, "%s/root-gone exists again", work.c_str());
  rt::check_child_passes(c, "the chrooted child");
  rt::pass();
}
