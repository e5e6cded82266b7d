// A file in the work directory, open (O_RDWR, offset 777), mapped
// MAP_SHARED and MAP_PRIVATE, then unlinked, across the round trip.
// Before the dump the shared mapping writes "shared-before" into page 0
// (the file changes) and the private mapping writes "private-before" into
// its page 1 (a copy of its own; pages 0 and 2 still map the file).
// After SIGTERM:
//   - the path does not exist, the fd's /proc link is the path plus
//     " (deleted)", st_nlink is 0, size, mode, offset and flags are kept;
//   - the content (pread, the shared mapping) is the file with
//     "shared-before"; past the end of the file the last page is zeros;
//   - /proc/self/maps has both mappings as that deleted file with the fd's
//     inode, "rw-s" and "rw-p";
//   - the private page 1 keeps "private-before" over the file's old content;
//   - a write through the shared mapping is seen by pread, a pwrite is seen
//     in the shared mapping and in the private page 2 (not copied: on Linux
//     it still maps the file) but not in the private page 1.
#include "mtlib.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSize = 2 * kPage + 300;
constexpr size_t kMapped = 3 * kPage;
constexpr off_t kOffset = 777;
constexpr uint64_t kSeed = 0xde1e7ed;
const char* const kName = "deleted-file.dat";

struct Mark {
  size_t at;
  const char* text;
};
constexpr Mark kSharedBefore = {100, "shared-before"};
constexpr Mark kPrivateBefore = {kPage + 50, "private-before"};
constexpr Mark kSharedAfter = {kPage + 1000, "shared-after"};
constexpr Mark kFdAfter2 = {2 * kPage + 10, "fd-after-page-2"};
constexpr Mark kFdAfter1 = {kPage + 2000, "fd-after-page-1"};

void put(char* base, const Mark& m) { memcpy(base + m.at, m.text, strlen(m.text)); }

std::string with(std::initializer_list<Mark> marks) {
  std::string s(kSize, '\0');
  rt::fill_pattern(s.data(), kSize, kSeed);
  for (const Mark& m : marks) memcpy(s.data() + m.at, m.text, strlen(m.text));
  return s;
}

long differs(const char* got, const std::string& want, size_t from = 0, size_t to = kSize) {
  for (size_t i = from; i < to; i++)
    if (got[i] != want[i]) return long(i);
  return -1;
}

}  // namespace

int main() {
  rt::block_term();
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  std::string path = std::string(cwd) + "/" + kName;
  int fd = open(kName, O_RDWR | O_CREAT | O_TRUNC, 0640);
  RT_CHECK(fd >= 0, "open %s: %s", kName, strerror(errno));
  fchmod(fd, 0640);  // whatever the umask
  std::string content = with({});
  RT_CHECK(write(fd, content.data(), kSize) == ssize_t(kSize), "write");
  RT_CHECK(lseek(fd, kOffset, SEEK_SET) == kOffset, "lseek");
  void* s = mmap(nullptr, kMapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* p = mmap(nullptr, kMapped, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  RT_CHECK(s != MAP_FAILED && p != MAP_FAILED, "mmap: %s", strerror(errno));
  char* shared = static_cast<char*>(s);
  char* priv = static_cast<char*>(p);
  (void)*static_cast<volatile char*>(priv);  // page 0 read (mapped, not copied)
  put(shared, kSharedBefore);
  put(priv, kPrivateBefore);
  std::string priv_page1 = with({kSharedBefore, kPrivateBefore}).substr(kPage, kPage);
  RT_CHECK(unlink(kName) == 0, "unlink: %s", strerror(errno));
  struct stat before;
  RT_CHECK(fstat(fd, &before) == 0, "fstat");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 || errno != ENOENT) v.add("%s exists again", path.c_str());
  char link[PATH_MAX + 32] = {};
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1);
  std::string want_link = path + " (deleted)";
  if (n <= 0 || want_link != link) v.add("fd %d is '%s', want '%s'", fd, link, want_link.c_str());
  struct stat now {};
  if (fstat(fd, &now) != 0) v.add("fstat: %s", strerror(errno));
  if (now.st_nlink != 0) v.add("the file has %lu links, want 0", (unsigned long)now.st_nlink);
  if (now.st_size != off_t(kSize)) v.add("the file has size %lld, want %zu", (long long)now.st_size, kSize);
  if ((now.st_mode & 07777) != 0640 || !S_ISREG(now.st_mode)) v.add("the file has mode %o", now.st_mode);
  if (lseek(fd, 0, SEEK_CUR) != kOffset) v.add("offset %lld, want %lld", (long long)lseek(fd, 0, SEEK_CUR), (long long)kOffset);
  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) v.add("the fd is not O_RDWR");

  std::string want = with({kSharedBefore});
  std::string got(kSize, '\0');
  if (pread(fd, got.data(), kSize, 0) != ssize_t(kSize) || differs(got.data(), want) >= 0)
    v.add("pread differs at %ld", differs(got.data(), want));
  if (differs(shared, want) >= 0) v.add("the shared mapping differs at %ld", differs(shared, want));
  if (rt::first_nonzero(shared + kSize, kMapped - kSize) >= 0) v.add("the shared mapping is not zero past the end");
  if (differs(priv, want, 0, kPage) >= 0) v.add("the private page 0 differs at %ld", differs(priv, want, 0, kPage));
  if (memcmp(priv + kPage, priv_page1.data(), kPage) != 0) v.add("the private page 1 lost its own copy");
  if (differs(priv, want, 2 * kPage, kSize) >= 0) v.add("the private page 2 differs at %ld", differs(priv, want, 2 * kPage, kSize));
  for (auto [at, perms] : {std::pair{shared, "rw-s"}, {priv, "rw-p"}}) {
    rt::MapsEntry m = rt::maps_entry(0, at);
    if (!m.found || m.name != want_link || m.perms != perms || m.inode != now.st_ino)
      v.add("a mapping is %s '%s' inode %llu, want %s '%s' inode %llu", m.perms.c_str(), m.name.c_str(), m.inode, perms,
            want_link.c_str(), (unsigned long long)now.st_ino);
  }

  // The restored mappings and the fd are one file.
  put(shared, kSharedAfter);
  for (const Mark& m : {kFdAfter2, kFdAfter1})
    if (pwrite(fd, m.text, strlen(m.text), off_t(m.at)) != ssize_t(strlen(m.text))) v.add("pwrite: %s", strerror(errno));
  want = with({kSharedBefore, kSharedAfter, kFdAfter2, kFdAfter1});
  if (pread(fd, got.data(), kSize, 0) != ssize_t(kSize) || differs(got.data(), want) >= 0)
    v.add("after the writes pread differs at %ld", differs(got.data(), want));
  if (differs(shared, want) >= 0) v.add("after the writes the shared mapping differs at %ld", differs(shared, want));
  if (differs(priv, want, 2 * kPage, kSize) >= 0) v.add("the pwrite is not seen in the private page 2 (not copied)");
  if (memcmp(priv + kPage, priv_page1.data(), kPage) != 0) v.add("a pwrite shows in the private page 1 (its own copy)");
  v.finish();
}
