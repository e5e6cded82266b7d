// MAP_SHARED|MAP_ANONYMOUS memory shared by a parent and its child, shared
// again after the round trip, with pages only one of them still maps.
//
//   A  16 pages, made before the fork, written everywhere but pages 3 and 11
//      (holes).  The child unmaps pages 0-3 and writes a mark into page 13;
//      the parent sees it, then unmaps pages 12-15: pages 0-3 are only the
//      parent's, 12-15 only the child's, and all come back.
//   B  2 pages the parent alone maps (made after the fork).
//   F  a shared mapping of a file (shmem-anon-file), made before the fork:
//      both map the same file again, so it stays shared too.
//
// After the restore both check their pages and that A is still
// "/dev/zero (deleted)", one object (one inode) for both; then the parent
// writes into page 6, the child sees it and answers in page 7, which the
// parent sees: writes of each are seen by the other.
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
constexpr size_t kPages = 16;

uint8_t pattern(size_t page, size_t i) { return uint8_t(page * 31 + i * 7 + 1); }
bool is_hole(size_t page) { return page == 3 || page == 11; }


// The pages of A this process maps, as the dump found them.
void check_pages(const uint8_t* a, size_t from, size_t to, bool child) {
  for (size_t p = from; p < to; p++)
    for (size_t i = 0; i < kPage; i++) {
      uint8_t want = is_hole(p) ? 0 : pattern(p, i);
      if (p == 13 && i == 100) want = 'c';
      if (child && p == 6 && i == 0) want = 'P';  // the parent wrote it first
      RT_CHECK(a[p * kPage + i] == want, "%s: page %zu byte %zu of the shared area is %02x, want %02x",
               child ? "child" : "parent", p, i, a[p * kPage + i], want);
    }
}

// The maps line of the area starting at `addr` in /proc/PID/maps.
std::string maps_line(pid_t pid, const void* addr) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "%lx-", (unsigned long)addr);
  std::string line;
  while (std::getline(maps, line))
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

// "7f..-7f.. rw-s 00004000 00:01 1234   /dev/zero (deleted)": the inode.
std::string inode_of(const std::string& line) {
  char range[64], perms[8], offset[16], dev[16];
  unsigned long inode = 0;
  if (sscanf(line.c_str(), "%63s %7s %15s %15s %lu", range, perms, offset, dev, &inode) != 5) return "?";
  return std::to_string(inode);
}

void check_area(pid_t pid, const void* addr, const char* offset) {
  std::string line = maps_line(pid, addr);
  RT_CHECK(line.find(" rw-s ") != std::string::npos && line.find("/dev/zero (deleted)") != std::string::npos &&
               line.find(offset) != std::string::npos,
           "pid %d: the shared area at %p is '%s', want rw-s at %s of /dev/zero (deleted)", pid, addr, line.c_str(),
           offset);
}

[[noreturn]] void child_main(uint8_t* a, uint8_t* f, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  RT_CHECK(munmap(a, 4 * kPage) == 0, "child munmap");
  a[13 * kPage + 100] = 'c';
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent");
  // Restored: pages 4-15 are ours, 12-15 no longer the parent's.
  check_pages(a, 4, kPages, true);
  check_area(getpid(), a + 4 * kPage, " 00004000 ");
  RT_CHECK(a[6 * kPage] == 'P', "child: the parent's write in page 6 is not seen (%02x): not shared",
           a[6 * kPage]);
  a[7 * kPage] = 'C';
  RT_CHECK(f[1] == 'p', "child: the parent's write into the shared file mapping is not seen");
  f[2] = 'c';
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});

  auto* a = static_cast<uint8_t*>(
      mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(a != MAP_FAILED, "mmap A");
  for (size_t p = 0; p < kPages; p++)
    if (!is_hole(p))
      for (size_t i = 0; i < kPage; i++) a[p * kPage + i] = pattern(p, i);
  int fd = open("shmem-anon-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
  RT_CHECK(fd >= 0 && ftruncate(fd, 2 * kPage) == 0, "the shared file");
  auto* f = static_cast<uint8_t*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  RT_CHECK(f != MAP_FAILED, "mmap F");
  close(fd);
  f[0] = 'f';
  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(a, f, getppid());
  rt::await_signal(SIGUSR1, "ready from the child");
  RT_CHECK(a[13 * kPage + 100] == 'c', "the child's mark is not seen before the dump");
  RT_CHECK(munmap(a + 12 * kPage, 4 * kPage) == 0, "parent munmap");

  auto* b = static_cast<uint8_t*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(b != MAP_FAILED, "mmap B");
  memset(b + kPage, 0xb2, kPage);

  // The file's content is the file's: restoring the images again needs it
  // unmodified, so its mtime is put back at the end.
  struct stat dumped;
  RT_CHECK(stat("shmem-anon-file", &dumped) == 0, "stat the shared file");

  rt::ready();
  rt::wait_term();

  check_pages(a, 0, 12, false);
  for (size_t i = 0; i < kPage; i++) RT_CHECK(b[i] == 0 && b[kPage + i] == 0xb2, "B byte %zu", i);
  check_area(getpid(), a, " 00000000 ");
  check_area(getpid(), b, " 00000000 ");
  check_area(child, a + 4 * kPage, " 00004000 ");
  std::string ours = inode_of(maps_line(getpid(), a)), theirs = inode_of(maps_line(child, a + 4 * kPage));
  RT_CHECK(ours == theirs, "the shared area is inode %s here and %s in the child: not one object", ours.c_str(),
           theirs.c_str());
  RT_CHECK(inode_of(maps_line(getpid(), b)) != ours, "A and B are one object");

  RT_CHECK(f[0] == 'f', "the shared file mapping lost its byte");
  a[6 * kPage] = 'P';
  f[1] = 'p';
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = 0;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  RT_CHECK(a[7 * kPage] == 'C', "the child's write in page 7 is not seen (%02x): not shared", a[7 * kPage]);
  RT_CHECK(f[2] == 'c', "the child's write into the shared file mapping is not seen");
  RT_CHECK(msync(f, 2 * kPage, MS_SYNC) == 0, "msync");
  timespec times[2] = {dumped.st_atim, dumped.st_mtim};
  RT_CHECK(utimensat(AT_FDCWD, "shmem-anon-file", times, 0) == 0, "utimensat");
  rt::pass();
}
