// Deleted files still mapped and still open, across the round trip.
//
//   shmem-deleted-mapped  2 pages + 300 bytes, mode 0640: open read-write
//                         at offset 100, mapped shared (whole) and private
//                         (page 0 copied on write), then unlinked
//   shmem-deleted-open    sparse (data at 0 and at 100000), open read-only
//                         at offset 7, then unlinked
//   shmem-deleted-taken   open, unlinked, and a new file made at its path:
//                         restore puts it back next to it
//
// After the restore each fd's link reads "PATH (deleted)", the files have
// no name, their mode, size and content; the shared mapping and the fd are
// one file (a write through one is seen through the other); the private
// page is still private; the new file at the taken path is untouched.
// (Registered with --ghost-limit 8K too: then the dump must refuse.)
#include "testlib.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kMappedSize = 2 * kPage + 300;
constexpr off_t kSparseAt = 100000;

uint8_t pattern(size_t i) { return uint8_t(i * 17 + 9); }

std::string link_of(int fd) {
  char path[64], buf[PATH_MAX];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "?";
}

std::string maps_line(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "%lx-", (unsigned long)addr);
  std::string line;
  while (std::getline(maps, line))
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

int make_file(const std::string& path, mode_t mode) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, mode);
  RT_CHECK(fd >= 0, "create %s", path.c_str());
  RT_CHECK(fchmod(fd, mode) == 0, "chmod %s", path.c_str());
  return fd;
}

}  // namespace

int main() {
  rt::block_term();
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  std::string mapped_path = std::string(cwd) + "/shmem-deleted-mapped";
  std::string open_path = std::string(cwd) + "/shmem-deleted-open";
  std::string taken_path = std::string(cwd) + "/shmem-deleted-taken";

  int mapped = make_file(mapped_path, 0640);
  static uint8_t content[kMappedSize];
  for (size_t i = 0; i < kMappedSize; i++) content[i] = pattern(i);
  RT_CHECK(write(mapped, content, kMappedSize) == ssize_t(kMappedSize), "write mapped");
  RT_CHECK(lseek(mapped, 100, SEEK_SET) == 100, "lseek mapped");
  auto* shared = static_cast<uint8_t*>(mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, mapped, 0));
  RT_CHECK(shared != MAP_FAILED, "mmap shared");
  auto* priv = static_cast<uint8_t*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, mapped, 0));
  RT_CHECK(priv != MAP_FAILED, "mmap private");
  priv[1] = 'p';
  RT_CHECK(unlink(mapped_path.c_str()) == 0, "unlink mapped");

  int w = make_file(open_path, 0600);
  RT_CHECK(pwrite(w, "start", 5, 0) == 5 && pwrite(w, "far", 3, kSparseAt) == 3, "write open");
  close(w);
  int ro = open(open_path.c_str(), O_RDONLY);
  RT_CHECK(ro >= 0 && lseek(ro, 7, SEEK_SET) == 7, "open read-only");
  RT_CHECK(unlink(open_path.c_str()) == 0, "unlink open");

  int taken = make_file(taken_path, 0600);
  RT_CHECK(write(taken, "old", 3) == 3, "write taken");
  RT_CHECK(unlink(taken_path.c_str()) == 0, "unlink taken");
  int other = make_file(taken_path, 0644);
  RT_CHECK(write(other, "new", 3) == 3, "write new");
  close(other);

  rt::ready();
  rt::wait_term();

  // The mapped one.
  RT_CHECK(link_of(mapped) == mapped_path + " (deleted)", "the mapped file's fd is %s", link_of(mapped).c_str());
  struct stat st;
  RT_CHECK(fstat(mapped, &st) == 0, "fstat mapped");
  RT_CHECK(st.st_nlink == 0, "the mapped file has %lu names", (unsigned long)st.st_nlink);
  RT_CHECK(st.st_size == off_t(kMappedSize), "the mapped file has %ld bytes", long(st.st_size));
  RT_CHECK((st.st_mode & 07777) == 0640, "the mapped file has mode 0%o", st.st_mode & 07777);
  RT_CHECK(lseek(mapped, 0, SEEK_CUR) == 100, "the mapped file's fd is at %ld", long(lseek(mapped, 0, SEEK_CUR)));
  RT_CHECK((fcntl(mapped, F_GETFL) & O_ACCMODE) == O_RDWR, "the mapped file's fd is not O_RDWR");
  static uint8_t buf[kMappedSize];
  RT_CHECK(pread(mapped, buf, kMappedSize, 0) == ssize_t(kMappedSize), "pread mapped");
  for (size_t i = 0; i < kMappedSize; i++) {
    RT_CHECK(buf[i] == pattern(i), "the mapped file's byte %zu is %02x", i, buf[i]);
    RT_CHECK(shared[i] == pattern(i), "the shared mapping's byte %zu is %02x", i, shared[i]);
  }
  for (size_t i = 0; i < kPage; i++)
    RT_CHECK(priv[i] == (i == 1 ? 'p' : pattern(i)), "the private mapping's byte %zu is %02x", i, priv[i]);
  std::string line = maps_line(shared);
  RT_CHECK(line.find(" rw-s ") != std::string::npos && line.find(mapped_path + " (deleted)") != std::string::npos,
           "the shared mapping is '%s'", line.c_str());
  RT_CHECK(maps_line(priv).find(mapped_path + " (deleted)") != std::string::npos, "the private mapping is '%s'",
           maps_line(priv).c_str());
  struct stat mst;
  RT_CHECK(stat(("/proc/self/map_files/" + line.substr(0, line.find(' '))).c_str(), &mst) == 0 &&
               mst.st_ino == st.st_ino,
           "the shared mapping is not the fd's file");
  RT_CHECK(pwrite(mapped, "W", 1, 50) == 1 && shared[50] == 'W', "a write through the fd is not seen in the mapping");
  shared[60] = 'S';
  char c = 0;
  RT_CHECK(pread(mapped, &c, 1, 60) == 1 && c == 'S', "a write into the mapping is not seen through the fd");

  // The sparse one.
  RT_CHECK(link_of(ro) == open_path + " (deleted)", "the open file's fd is %s", link_of(ro).c_str());
  RT_CHECK(fstat(ro, &st) == 0 && st.st_nlink == 0 && st.st_size == kSparseAt + 3 && (st.st_mode & 07777) == 0600,
           "the open file: %lu names, %ld bytes, mode 0%o", (unsigned long)st.st_nlink, long(st.st_size),
           st.st_mode & 07777);
  RT_CHECK(lseek(ro, 0, SEEK_CUR) == 7, "the open file's fd is at %ld", long(lseek(ro, 0, SEEK_CUR)));
  RT_CHECK((fcntl(ro, F_GETFL) & O_ACCMODE) == O_RDONLY, "the open file's fd is not read-only");
  static char sparse[kSparseAt + 3];
  RT_CHECK(pread(ro, sparse, sizeof(sparse), 0) == ssize_t(sizeof(sparse)), "pread open");
  RT_CHECK(!memcmp(sparse, "start", 5) && !memcmp(sparse + kSparseAt, "far", 3), "the open file's data");
  for (off_t i = 5; i < kSparseAt; i++) RT_CHECK(sparse[i] == 0, "the open file's byte %ld is %02x", long(i), sparse[i]);

  // The one whose path was taken: back next to it, nameless too.
  std::string link = link_of(taken);
  RT_CHECK(link.rfind(taken_path, 0) == 0 && link.size() >= 10 && link.substr(link.size() - 10) == " (deleted)",
           "the taken file's fd is %s", link.c_str());
  RT_CHECK(fstat(taken, &st) == 0 && st.st_nlink == 0 && st.st_size == 3, "the taken file: %lu names, %ld bytes",
           (unsigned long)st.st_nlink, long(st.st_size));
  char old[4] = {};
  RT_CHECK(pread(taken, old, 3, 0) == 3 && !strcmp(old, "old"), "the taken file holds '%s'", old);
  int now = open(taken_path.c_str(), O_RDONLY);
  char fresh[4] = {};
  RT_CHECK(now >= 0 && read(now, fresh, 3) == 3 && !strcmp(fresh, "new"), "the file at the taken path holds '%s'",
           fresh);
  close(now);
  rt::pass();
}
