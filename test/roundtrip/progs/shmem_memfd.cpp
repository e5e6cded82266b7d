// memfds across the round trip: one memfd mapped in a parent and its child
// and held as fds, one object for all of them.
//
//   M   memfd "ckpt-memfd", 4 pages + 100 bytes (page 2 a hole), sealed
//       against shrinking and growing; fd at offset 1234 (one description,
//       inherited by the child), mapped shared by both, and mapped private
//       by the parent with page 1 copied on write.  The child opens a
//       description of its own (read-only, offset 77).
//   N   memfd "ckpt-plain" without sealing (F_SEAL_SEAL), only an fd.
//
// After the restore: names, sizes, seals, offsets, flags, content, and the
// sharing: the parent writes through its mapping, the child reads it through
// its own fd and writes through the inherited one, which the parent sees in
// its mapping.
#include "testlib.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <string>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSize = 4 * kPage + 100;

uint8_t pattern(size_t i) { return uint8_t(i * 13 + 5); }
bool in_hole(size_t i) { return i / kPage == 2; }
uint8_t want_at(size_t i) { return i >= kSize || in_hole(i) ? 0 : pattern(i); }


std::string link_of(int fd) {
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "?";
}

ino_t inode(int fd) {
  struct stat st;
  RT_CHECK(fstat(fd, &st) == 0, "fstat %d", fd);
  return st.st_ino;
}

void check_content(int fd, const char* who) {
  static uint8_t buf[kSize + 10];
  RT_CHECK(pread(fd, buf, sizeof(buf), 0) == ssize_t(kSize), "%s: pread of the memfd", who);
  for (size_t i = 0; i < kSize; i++)
    if (i != 10 && i != 20)  // written after the restore
      RT_CHECK(buf[i] == want_at(i), "%s: memfd byte %zu is %02x, want %02x", who, i, buf[i], want_at(i));
}

[[noreturn]] void child_main(int m, const uint8_t* shared, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char self[64];
  snprintf(self, sizeof(self), "/proc/self/fd/%d", m);
  int own = open(self, O_RDONLY);
  RT_CHECK(own >= 0, "child: reopen the memfd");
  RT_CHECK(lseek(own, 77, SEEK_SET) == 77, "child: lseek");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent");

  RT_CHECK(inode(own) == inode(m), "child: its own fd and the inherited one are not one memfd");
  RT_CHECK(lseek(own, 0, SEEK_CUR) == 77, "child: its own fd is at %ld, want 77", long(lseek(own, 0, SEEK_CUR)));
  RT_CHECK((fcntl(own, F_GETFL) & O_ACCMODE) == O_RDONLY, "child: its own fd is not read-only");
  RT_CHECK(link_of(own) == "/memfd:ckpt-memfd (deleted)", "child: its own fd is %s", link_of(own).c_str());
  check_content(own, "child");
  char c = 0;
  RT_CHECK(pread(own, &c, 1, 10) == 1 && c == 'M', "child: the parent's write is not seen through its fd (%02x)",
           uint8_t(c));
  RT_CHECK(shared[10] == 'M', "child: the parent's write is not seen in its mapping");
  RT_CHECK(pwrite(m, "F", 1, 20) == 1, "child: pwrite");
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});

  int m = memfd_create("ckpt-memfd", MFD_ALLOW_SEALING);
  RT_CHECK(m >= 0, "memfd_create");
  RT_CHECK(ftruncate(m, kSize) == 0, "ftruncate");
  static uint8_t content[kSize];
  for (size_t i = 0; i < kSize; i++) content[i] = pattern(i);
  RT_CHECK(pwrite(m, content, 2 * kPage, 0) == ssize_t(2 * kPage), "pwrite");
  RT_CHECK(pwrite(m, content + 3 * kPage, kSize - 3 * kPage, 3 * kPage) == ssize_t(kSize - 3 * kPage), "pwrite");
  RT_CHECK(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0, "F_ADD_SEALS");
  RT_CHECK(lseek(m, 1234, SEEK_SET) == 1234, "lseek");
  auto* shared = static_cast<uint8_t*>(mmap(nullptr, 5 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0));
  RT_CHECK(shared != MAP_FAILED, "mmap shared");
  auto* priv = static_cast<uint8_t*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0));
  RT_CHECK(priv != MAP_FAILED, "mmap private");
  priv[kPage + 1] = 'p';  // copied on write: the parent's alone
  volatile uint8_t sink = priv[0];
  (void)sink;

  int n = memfd_create("ckpt-plain", MFD_CLOEXEC);
  RT_CHECK(n >= 0 && write(n, "plain", 5) == 5, "memfd N");

  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(m, shared, getppid());
  rt::await_signal(SIGUSR1, "ready from the child");

  rt::ready();
  rt::wait_term();

  RT_CHECK(link_of(m) == "/memfd:ckpt-memfd (deleted)", "the memfd is %s", link_of(m).c_str());
  struct stat st;
  RT_CHECK(fstat(m, &st) == 0 && st.st_size == off_t(kSize), "the memfd has %ld bytes, want %zu", long(st.st_size),
           kSize);
  int seals = fcntl(m, F_GET_SEALS);
  RT_CHECK(seals == (F_SEAL_SHRINK | F_SEAL_GROW), "the memfd's seals are 0x%x, want 0x%x", seals,
           F_SEAL_SHRINK | F_SEAL_GROW);
  RT_CHECK(ftruncate(m, kPage) < 0 && errno == EPERM, "the memfd can shrink");
  RT_CHECK(lseek(m, 0, SEEK_CUR) == 1234, "the memfd fd is at %ld, want 1234", long(lseek(m, 0, SEEK_CUR)));
  RT_CHECK((fcntl(m, F_GETFL) & O_ACCMODE) == O_RDWR, "the memfd fd is not O_RDWR");
  RT_CHECK(!(fcntl(m, F_GETFD) & FD_CLOEXEC), "the memfd fd became close-on-exec");
  check_content(m, "parent");
  for (size_t i = 0; i < kSize; i++)
    RT_CHECK(shared[i] == want_at(i), "shared mapping byte %zu is %02x, want %02x", i, shared[i], want_at(i));
  for (size_t i = 0; i < 2 * kPage; i++) {
    uint8_t want = i == kPage + 1 ? 'p' : want_at(i);
    RT_CHECK(priv[i] == want, "private mapping byte %zu is %02x, want %02x", i, priv[i], want);
  }
  // The child's memfd is ours.
  struct stat theirs;
  RT_CHECK(stat(("/proc/" + std::to_string(child) + "/fd/" + std::to_string(m)).c_str(), &theirs) == 0 &&
               theirs.st_ino == st.st_ino,
           "the child's memfd is another object");

  RT_CHECK(link_of(n) == "/memfd:ckpt-plain (deleted)", "N is %s", link_of(n).c_str());
  RT_CHECK(fcntl(n, F_GET_SEALS) == F_SEAL_SEAL, "N's seals are 0x%x, want F_SEAL_SEAL", fcntl(n, F_GET_SEALS));
  RT_CHECK(fcntl(n, F_GETFD) & FD_CLOEXEC, "N lost close-on-exec");
  char plain[8] = {};
  RT_CHECK(pread(n, plain, sizeof(plain), 0) == 5 && !strcmp(plain, "plain"), "N holds '%s'", plain);
  RT_CHECK(lseek(n, 0, SEEK_CUR) == 5, "N is at %ld", long(lseek(n, 0, SEEK_CUR)));
  RT_CHECK(inode(n) != st.st_ino, "M and N are one object");

  shared[10] = 'M';
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = 0;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  RT_CHECK(shared[20] == 'F', "the child's write through its fd is not seen in the mapping (%02x)", shared[20]);
  rt::pass();
}
