// A sealed memfd shared by a parent and its child, across the round trip.
// The memfd "rt-memfd" is 3 pages and 100 bytes, sealed F_SEAL_SHRINK |
// F_SEAL_GROW, open in the parent as an fd (offset 1234) and mapped
// MAP_SHARED whole; the child inherits that mapping, maps a view of its own
// (2 pages from offset 4096) and closes its fd, so it holds the memfd only
// through mappings.  Bytes 0..63 are the handshake (a phase word, shared
// futex); the rest is a pattern the child adds to before the dump.
// After SIGTERM the parent checks the fd (its /proc link, size, seals that
// still act, offset, flags, content by pread and by the mapping, the maps
// line with the fd's inode, and the child's view in the child's maps), then
// writes through its mapping and through the fd; the child must see both in
// its view, writes back through it and ends; the parent must see that
// write through the fd and its mapping.
#include "mtlib.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSize = 3 * kPage + 100;
constexpr off_t kOffset = 1234;
constexpr size_t kControl = 64;
constexpr uint64_t kSeed = 0x3e3fd;
const char* const kLink = "/memfd:rt-memfd (deleted)";
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW;
constexpr int kChildFailed = 99;

// Marks written at file offsets, before and after the restore.
struct Mark {
  off_t at;
  const char* text;
};
constexpr Mark kChildBefore = {2 * kPage + 10, "child-before"};  // through the child's view
constexpr Mark kParentMap = {kPage + 200, "parent-after-map"};    // through the parent's mapping
constexpr Mark kParentFd = {2 * kPage + 300, "parent-after-fd"};  // with pwrite
constexpr Mark kChildAfter = {kPage + 500, "child-after"};        // through the child's view

char* g_map = nullptr;   // the parent's mapping (the child's inherited one)
char* g_view = nullptr;  // the child's view: file offset 4096 at g_view
std::atomic<int>& phase() { return *reinterpret_cast<std::atomic<int>*>(g_map); }

bool has(const char* base, off_t base_off, const Mark& m) {
  return memcmp(base + (m.at - base_off), m.text, strlen(m.text)) == 0;
}

void put(char* base, off_t base_off, const Mark& m) { memcpy(base + (m.at - base_off), m.text, strlen(m.text)); }

// The whole content expected: the pattern, with these marks over it.
std::string expected(const std::vector<Mark>& marks) {
  std::string s(kSize, '\0');
  rt::fill_pattern(s.data(), kSize, kSeed);
  for (const Mark& m : marks) memcpy(s.data() + m.at, m.text, strlen(m.text));
  return s;
}

// Compares from kControl on (the handshake word changes).
long differs(const char* got, const std::string& want) {
  for (size_t i = kControl; i < kSize; i++)
    if (got[i] != want[i]) return long(i);
  return -1;
}

#define CHILD_CHECK(cond, ...)                         \
  do {                                                 \
    if (!(cond)) {                                     \
      printf("FAIL: child: " __VA_ARGS__);             \
      printf("\n");                                    \
      fflush(stdout);                                  \
      rt::store_wake(phase(), kChildFailed, true);     \
      _exit(1);                                        \
    }                                                  \
  } while (0)

[[noreturn]] void child(int fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  void* v = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, kPage);
  CHILD_CHECK(v != MAP_FAILED, "mmap of the view: %s", strerror(errno));
  g_view = static_cast<char*>(v);
  close(fd);
  put(g_view, kPage, kChildBefore);
  rt::store_wake(phase(), 1, true);
  while (phase().load() < 2) rt::futex_wait(phase(), phase().load(), nullptr, true);

  // No fd of the memfd: the restore must not have given the child one.
  for (int i = 0; i < 1024; i++) {
    char path[64], link[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) link[n] = 0;
    CHILD_CHECK(n <= 0 || strncmp(link, "/memfd:", 7) != 0, "fd %d is %s", i, n > 0 ? link : "");
  }
  rt::MapsEntry m = rt::maps_entry(0, g_view);
  CHILD_CHECK(m.found && m.name == kLink && m.perms == "rw-s" && m.offset == kPage, "the view is mapped as %s %s at %llx",
              m.perms.c_str(), m.name.c_str(), m.offset);
  CHILD_CHECK(has(g_view, kPage, kParentMap), "the parent's write through its mapping is not in the view");
  CHILD_CHECK(has(g_view, kPage, kParentFd), "the parent's pwrite is not in the view");
  CHILD_CHECK(has(g_map, 0, kParentMap) && has(g_map, 0, kParentFd), "the parent's writes are not in the inherited mapping");
  put(g_view, kPage, kChildAfter);
  rt::store_wake(phase(), 3, true);
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_term();
  int fd = memfd_create("rt-memfd", MFD_ALLOW_SEALING);
  RT_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
  std::string content = expected({});
  memset(content.data(), 0, kControl);
  RT_CHECK(write(fd, content.data(), kSize) == ssize_t(kSize), "write");
  RT_CHECK(fcntl(fd, F_ADD_SEALS, kSeals) == 0, "F_ADD_SEALS: %s", strerror(errno));
  RT_CHECK(lseek(fd, kOffset, SEEK_SET) == kOffset, "lseek");
  void* m = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  RT_CHECK(m != MAP_FAILED, "mmap");
  g_map = static_cast<char*>(m);
  pid_t me = getpid();
  fflush(stdout);
  pid_t kid = fork();
  RT_CHECK(kid >= 0, "fork");
  if (kid == 0) child(fd, me);
  RT_CHECK(rt::await_at_least(phase(), 1, 30, true), "the child did not write within 30 s");
  RT_CHECK(has(g_map, 0, kChildBefore), "the child's write is not seen before the dump");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  char link[256] = {};
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1);
  if (n <= 0 || strcmp(link, kLink) != 0) v.add("fd %d is '%s', want '%s'", fd, link, kLink);
  struct stat now {};
  if (fstat(fd, &now) != 0 || now.st_size != off_t(kSize))
    v.add("fd %d has size %lld, want %zu", fd, (long long)now.st_size, kSize);
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals != kSeals) v.add("seals %#x, want %#x", seals, kSeals);
  if (ftruncate(fd, kSize - 1) == 0 || errno != EPERM) v.add("the memfd shrinks: F_SEAL_SHRINK does not act");
  if (ftruncate(fd, kSize + kPage) == 0 || errno != EPERM) v.add("the memfd grows: F_SEAL_GROW does not act");
  if (pwrite(fd, "x", 1, kSize) >= 0 || errno != EPERM) v.add("a write past the end works: F_SEAL_GROW does not act");
  if (lseek(fd, 0, SEEK_CUR) != kOffset) v.add("fd offset %lld, want %lld", (long long)lseek(fd, 0, SEEK_CUR), (long long)kOffset);
  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) v.add("fd flags %#x, want O_RDWR", fcntl(fd, F_GETFL));
  if (fcntl(fd, F_GETFD) != 0) v.add("fd %d has FD flags %#x, want none", fd, fcntl(fd, F_GETFD));
  std::string want = expected({kChildBefore});
  std::string got(kSize, '\0');
  if (pread(fd, got.data(), kSize, 0) != ssize_t(kSize)) v.add("pread of the content failed");
  else if (differs(got.data(), want) >= 0) v.add("the content read by pread differs at %ld", differs(got.data(), want));
  if (differs(g_map, want) >= 0) v.add("the content in the mapping differs at %ld", differs(g_map, want));
  rt::MapsEntry mine = rt::maps_entry(0, g_map), theirs = rt::maps_entry(kid, g_map);
  if (mine.name != kLink || mine.perms != "rw-s" || mine.inode != now.st_ino)
    v.add("the mapping is %s %s inode %llu, the fd inode %llu", mine.perms.c_str(), mine.name.c_str(), mine.inode,
          (unsigned long long)now.st_ino);
  if (theirs.name != kLink || theirs.inode != now.st_ino)
    v.add("the child's inherited mapping is %s inode %llu, not the fd's file", theirs.name.c_str(), theirs.inode);

  put(g_map, 0, kParentMap);
  if (pwrite(fd, kParentFd.text, strlen(kParentFd.text), kParentFd.at) != ssize_t(strlen(kParentFd.text)))
    v.add("pwrite: %s", strerror(errno));
  rt::store_wake(phase(), 2, true);
  if (!rt::await_at_least(phase(), 3, 30, true))
    v.add("the child did not answer within 30 s (phase %d): the memfd is not shared", phase().load());
  else if (phase().load() == kChildFailed)
    v.add("the child failed its checks");
  else {
    want = expected({kChildBefore, kParentMap, kParentFd, kChildAfter});
    if (pread(fd, got.data(), kSize, 0) != ssize_t(kSize) || differs(got.data(), want) >= 0)
      v.add("after the child's write pread differs at %ld", differs(got.data(), want));
    if (differs(g_map, want) >= 0) v.add("after the child's write the mapping differs at %ld", differs(g_map, want));
  }
  int status = rt::await_child(kid, 30);
  if (status == -1) v.add("the child did not end within 30 s");
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) v.add("the child ended with status %#x", status);
  v.finish();
}
