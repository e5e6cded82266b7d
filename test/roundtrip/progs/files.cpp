// Regular files across the round trip: offsets, open flags (O_APPEND,
// O_CLOEXEC, read-only, read-write), dup'd fds that share one offset, fd
// numbers above 100, the working directory and the umask.
#include "testlib.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <string>

namespace {

int open_file(const char* name, int flags, const char* content) {
  int fd = open(name, flags | O_CREAT, 0640);
  RT_CHECK(fd >= 0, "open %s", name);
  if (content) RT_CHECK(write(fd, content, strlen(content)) == ssize_t(strlen(content)), "write %s", name);
  return fd;
}

std::string read_all(const char* name) {
  int fd = open(name, O_RDONLY);
  RT_CHECK(fd >= 0, "reopen %s", name);
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return std::string(buf, n > 0 ? size_t(n) : 0);
}

}  // namespace

int main() {
  RT_CHECK(mkdir("files-cwd", 0755) == 0 || errno == EEXIST, "mkdir");
  RT_CHECK(chdir("files-cwd") == 0, "chdir");
  char cwd_before[PATH_MAX];
  RT_CHECK(getcwd(cwd_before, sizeof(cwd_before)), "getcwd");
  umask(0027);

  int rw = open_file("rw.txt", O_RDWR | O_TRUNC, "0123456789abcdef");
  RT_CHECK(lseek(rw, 5, SEEK_SET) == 5, "seek rw");
  int app = open_file("append.txt", O_WRONLY | O_APPEND | O_TRUNC, "first\n");
  int ro = open("rw.txt", O_RDONLY | O_CLOEXEC);
  RT_CHECK(ro >= 0, "open ro");
  RT_CHECK(lseek(ro, 10, SEEK_SET) == 10, "seek ro");
  int dup_a = open_file("shared.txt", O_RDWR | O_TRUNC, "shared-offset-");
  int dup_b = dup(dup_a);
  int high = fcntl(rw, F_DUPFD_CLOEXEC, 150);
  RT_CHECK(high >= 150, "dup high");
  int high_own = open("rw.txt", O_RDONLY);
  RT_CHECK(dup2(high_own, 203) == 203, "dup2 203");
  close(high_own);
  RT_CHECK(lseek(203, 3, SEEK_SET) == 3, "seek 203");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, cwd_before) == 0, "cwd is %s, want %s", cwd, cwd_before);
  mode_t old = umask(0);
  RT_CHECK(old == 0027, "umask is %03o", old);

  RT_CHECK(lseek(rw, 0, SEEK_CUR) == 5, "rw offset %ld", long(lseek(rw, 0, SEEK_CUR)));
  char c;
  RT_CHECK(read(rw, &c, 1) == 1 && c == '5', "rw read");
  RT_CHECK((fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR, "rw access mode");
  RT_CHECK(!(fcntl(rw, F_GETFD) & FD_CLOEXEC), "rw got CLOEXEC");

  RT_CHECK(fcntl(app, F_GETFL) & O_APPEND, "append lost O_APPEND");
  RT_CHECK(write(app, "second\n", 7) == 7, "append write");
  // (Restored twice from one image set, the file holds one "second" per run.)
  std::string appended = read_all("append.txt");
  RT_CHECK(appended.rfind("first\nsecond\n", 0) == 0 && appended.size() % 7 == 6 &&
               appended.compare(appended.size() - 7, 7, "second\n") == 0,
           "append content '%s'", appended.c_str());

  RT_CHECK(lseek(ro, 0, SEEK_CUR) == 10, "ro offset");
  RT_CHECK((fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY, "ro access mode");
  RT_CHECK(fcntl(ro, F_GETFD) & FD_CLOEXEC, "ro lost CLOEXEC");

  RT_CHECK(write(dup_a, "A", 1) == 1 && write(dup_b, "B", 1) == 1, "dup writes");
  RT_CHECK(lseek(dup_a, 0, SEEK_CUR) == lseek(dup_b, 0, SEEK_CUR), "dup'd fds no longer share an offset");
  RT_CHECK(read_all("shared.txt") == "shared-offset-AB", "shared content '%s'", read_all("shared.txt").c_str());

  RT_CHECK(fcntl(high, F_GETFD) & FD_CLOEXEC, "fd %d lost CLOEXEC", high);
  RT_CHECK(lseek(high, 0, SEEK_CUR) == lseek(rw, 0, SEEK_CUR), "fd %d no longer shares rw's offset", high);
  RT_CHECK(lseek(203, 0, SEEK_CUR) == 3, "fd 203 offset");
  RT_CHECK(fcntl(100, F_GETFD) == -1, "fd 100 appeared");
  rt::pass();
}
