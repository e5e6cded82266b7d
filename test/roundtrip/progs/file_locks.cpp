// A file lock or lease held across a dump: without --file-locks the dump
// must refuse it, naming the holder and the lock, and leave the program
// running; with it (dump and restore) the lock must be held after the
// restore.  Either way the program then checks, from processes made after
// the restore, that it (or its child) still holds the lock, and that the
// holder can still release it.
//
// CKPT_TEST_LOCK picks the lock, taken on ./locked-file:
//   flock            flock(LOCK_EX)
//   posix-read       fcntl(F_SETLK) F_RDLCK, the whole file
//   posix-write      fcntl(F_SETLK) F_WRLCK, bytes 5-14
//   ofd              fcntl(F_OFD_SETLK) F_WRLCK, the whole file
//   lease            fcntl(F_SETLEASE) F_RDLCK
//   child-posix      a child takes a POSIX write lock (POSIX locks belong to
//                    the process: the parent holds none)
//   inherited-flock  the parent takes a flock, forks, and closes its fd: the
//                    child holds the lock through the description it inherited
//   posix-mapped     a POSIX write lock on a file the process also maps
//                    (refused even with --file-locks)
//   all              a flock, a POSIX write lock on bytes 0-4 and an OFD read
//                    lock on bytes 10-19, through three descriptions of the
//                    file, and a child's POSIX read lock on bytes 30-39
#include "testlib.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <string>

namespace {

const char* const kFile = "locked-file";

int open_file(int flags) {
  int fd = open(kFile, flags | O_CREAT, 0644);
  RT_CHECK(fd >= 0, "open %s: %s", kFile, strerror(errno));
  return fd;
}

void posix_lock(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  RT_CHECK(fcntl(fd, cmd, &fl) == 0, "fcntl lock: %s", strerror(errno));
}

// What another process sees of the lock on the byte `at` (F_GETLK tests
// for a write lock that would conflict).
struct flock probe(int cmd, off_t at) {
  int fd = open_file(O_RDWR);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  RT_CHECK(fcntl(fd, cmd, &fl) == 0, "F_GETLK: %s", strerror(errno));
  close(fd);
  return fl;
}

// A new description cannot take the flock while someone holds it.
bool flock_held() {
  int fd = open_file(O_RDWR);
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return held;
}

// In a child (F_GETLK in the owner itself reports no conflict); F_UNLCK:
// the byte is not locked.
void expect_posix_held(short type, off_t at, pid_t owner) {
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork");
  if (pid == 0) {
    struct flock fl = probe(F_GETLK, at);
    if (fl.l_type != type || (type != F_UNLCK && fl.l_pid != owner)) {
      printf("FAIL: F_GETLK at %lld: type %d pid %d, want type %d pid %d\n", (long long)at, fl.l_type, fl.l_pid, type,
             owner);
      fflush(stdout);
      _exit(1);
    }
    _exit(0);
  }
  int status;
  RT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the POSIX lock is not held as it was");
}

// A child that holds a lock until SIGTERM: none (it holds the parent's
// flock through the description), a POSIX write lock on the whole file, or
// a POSIX read lock on bytes 30-39.
enum class ChildLock { None, PosixWrite, PosixRead30 };
pid_t start_child(int fd, ChildLock what) {
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork");
  if (pid == 0) {
    if (what == ChildLock::PosixWrite) posix_lock(fd, F_SETLK, F_WRLCK, 0, 0);
    if (what == ChildLock::PosixRead30) posix_lock(fd, F_SETLK, F_RDLCK, 30, 10);
    kill(getppid(), SIGUSR2);
    rt::wait_term();
    _exit(0);
  }
  rt::await_signal(SIGUSR2, "the child's lock");
  return pid;
}

void unlock(int fd, int cmd, off_t start, off_t len) { posix_lock(fd, cmd, F_UNLCK, start, len); }

// In a child too: the probe's close() here would drop this process's POSIX
// locks on the file.
void expect_ofd(short type, off_t at) {
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork");
  if (pid == 0) {
    struct flock fl = probe(F_OFD_GETLK, at);
    if (fl.l_type != type || (type != F_UNLCK && fl.l_pid != -1)) {
      printf("FAIL: F_OFD_GETLK at %lld: type %d pid %d, want type %d\n", (long long)at, fl.l_type, fl.l_pid, type);
      fflush(stdout);
      _exit(1);
    }
    _exit(0);
  }
  int status;
  RT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the OFD lock is not held as it was");
}

void stop_child(pid_t child) {
  kill(child, SIGTERM);
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the child did not end well");
}

}  // namespace

int main() {
  const char* kind_env = getenv("CKPT_TEST_LOCK");
  RT_CHECK(kind_env, "CKPT_TEST_LOCK is not set");
  std::string kind = kind_env;
  rt::block_signals({SIGTERM, SIGUSR2});
  unlink(kFile);
  {
    int fd = open_file(O_RDWR);
    RT_CHECK(write(fd, "0123456789abcdefghij", 20) == 20, "write");
    close(fd);
  }
  pid_t child = 0;
  int fd = -1, posix_fd = -1, ofd_fd = -1;
  if (kind == "flock") {
    fd = open_file(O_RDWR);
    RT_CHECK(flock(fd, LOCK_EX) == 0, "flock: %s", strerror(errno));
  } else if (kind == "posix-read") {
    fd = open_file(O_RDWR);
    posix_lock(fd, F_SETLK, F_RDLCK, 0, 0);
  } else if (kind == "posix-write") {
    fd = open_file(O_RDWR);
    posix_lock(fd, F_SETLK, F_WRLCK, 5, 10);
  } else if (kind == "ofd") {
    fd = open_file(O_RDWR);
    posix_lock(fd, F_OFD_SETLK, F_WRLCK, 0, 0);
  } else if (kind == "lease") {
    fd = open_file(O_RDONLY);  // a read lease: nobody may have it open for writing
    RT_CHECK(fcntl(fd, F_SETLEASE, F_RDLCK) == 0, "F_SETLEASE: %s", strerror(errno));
  } else if (kind == "child-posix") {
    fd = open_file(O_RDWR);
    child = start_child(fd, ChildLock::PosixWrite);
  } else if (kind == "inherited-flock") {
    fd = open_file(O_RDWR);
    RT_CHECK(flock(fd, LOCK_EX) == 0, "flock: %s", strerror(errno));
    child = start_child(fd, ChildLock::None);
    close(fd);
    fd = -1;
  } else if (kind == "posix-mapped") {
    fd = open_file(O_RDWR);
    posix_lock(fd, F_SETLK, F_WRLCK, 0, 0);
    RT_CHECK(mmap(nullptr, 20, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED, "mmap: %s", strerror(errno));
  } else if (kind == "all") {
    fd = open_file(O_RDWR);
    RT_CHECK(flock(fd, LOCK_EX) == 0, "flock: %s", strerror(errno));
    posix_fd = open_file(O_RDWR);
    posix_lock(posix_fd, F_SETLK, F_WRLCK, 0, 5);
    ofd_fd = open_file(O_RDWR);
    posix_lock(ofd_fd, F_OFD_SETLK, F_RDLCK, 10, 10);
    child = start_child(open_file(O_RDWR), ChildLock::PosixRead30);
  } else {
    rt::fail("unknown CKPT_TEST_LOCK %s", kind.c_str());
  }
  rt::ready();
  rt::wait_term();

  // POSIX locks first: flock_held() closes an fd of the file, which drops
  // the POSIX locks of this process on it.
  if (kind == "posix-read") expect_posix_held(F_RDLCK, 0, getpid());
  if (kind == "posix-mapped") expect_posix_held(F_WRLCK, 0, getpid());
  if (kind == "posix-write") {
    expect_posix_held(F_WRLCK, 5, getpid());
    expect_posix_held(F_WRLCK, 14, getpid());
    expect_posix_held(F_UNLCK, 15, 0);
  }
  if (kind == "child-posix") expect_posix_held(F_WRLCK, 0, child);
  if (kind == "ofd") expect_ofd(F_WRLCK, 0);
  if (kind == "all") {
    expect_posix_held(F_WRLCK, 4, getpid());
    expect_posix_held(F_UNLCK, 5, 0);
    expect_ofd(F_RDLCK, 10);
    expect_ofd(F_RDLCK, 19);
    expect_posix_held(F_RDLCK, 35, child);
  }
  if (kind == "lease") RT_CHECK(fcntl(fd, F_GETLEASE) == F_RDLCK, "the lease is not held any more");

  // The holders can still let go (POSIX first, as above).
  if (kind == "posix-read" || kind == "posix-write") {
    unlock(fd, F_SETLK, 0, 0);
    expect_posix_held(F_UNLCK, kind == "posix-read" ? 0 : 5, 0);
  }
  if (kind == "ofd") {
    unlock(fd, F_OFD_SETLK, 0, 0);
    expect_ofd(F_UNLCK, 0);
  }
  if (kind == "all") {
    unlock(posix_fd, F_SETLK, 0, 5);
    expect_posix_held(F_UNLCK, 4, 0);
    unlock(ofd_fd, F_OFD_SETLK, 10, 10);
    expect_ofd(F_UNLCK, 10);
  }
  if (kind == "flock" || kind == "inherited-flock" || kind == "all")
    RT_CHECK(flock_held(), "the flock is not held any more");
  if (kind == "flock" || kind == "all") {
    RT_CHECK(flock(fd, LOCK_UN) == 0, "flock(LOCK_UN): %s", strerror(errno));
    RT_CHECK(!flock_held(), "the flock is still held after LOCK_UN");
  }
  if (kind == "lease") RT_CHECK(fcntl(fd, F_SETLEASE, F_UNLCK) == 0, "cannot give up the lease");
  if (child) stop_child(child);
  if (kind == "inherited-flock") RT_CHECK(!flock_held(), "the flock is still held after its holder ended");
  if (kind == "child-posix" || kind == "all") expect_posix_held(F_UNLCK, 35, 0);
  rt::pass();
}
