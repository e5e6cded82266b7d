// A file with two names in the work directory, "link-remap.dat" and
// "link-remap.other": the program opens the first (O_RDWR, offset 123),
// maps it MAP_SHARED, removes that name and writes through the fd and the
// mapping.  The file still has a name, so dump needs --link-remap, which
// links the inode back; restore takes that very inode again.
// After SIGTERM:
//   - "link-remap.dat" does not exist, the fd's /proc link is its path plus
//     " (deleted)", the fd is the inode of "link-remap.other", offset and
//     flags are kept; the mapping shows the same deleted file and inode;
//   - what was written before the dump reads the same through the fd, the
//     mapping and the other name (in leave-running, the restored process
//     may find the original's writes too: the file is the same inode);
//   - a pwrite through the fd, a write through the mapping and a write
//     through the other name are each seen by the two others (one file);
//   - unless CKPT_TEST_MODE is leave-running (whose original still has the
//     dump's link, until the restore), no ".ckpt_link_remap." name is left
//     in the directory: a restore removes it, a failed dump too.
#include "mtlib.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSize = 2 * kPage;
constexpr off_t kOffset = 123;
constexpr uint64_t kSeed = 0x11272e3a;
const char* const kName = "link-remap.dat";
const char* const kOther = "link-remap.other";

struct Mark {
  size_t at;
  const char* text;
};
constexpr Mark kFdBefore = {10, "fd-before"};
constexpr Mark kMapBefore = {kPage + 20, "map-before"};
constexpr Mark kFdAfter = {300, "fd-after"};
constexpr Mark kMapAfter = {kPage + 400, "map-after"};
constexpr Mark kOtherAfter = {1000, "other-after"};

std::string with(std::initializer_list<Mark> marks) {
  std::string s(kSize, '\0');
  rt::fill_pattern(s.data(), kSize, kSeed);
  for (const Mark& m : marks) memcpy(s.data() + m.at, m.text, strlen(m.text));
  return s;
}

long differs(const char* got, const std::string& want) {
  for (size_t i = 0; i < want.size(); i++)
    if (got[i] != want[i]) return long(i);
  return -1;
}

bool write_at(int fd, const Mark& m) { return pwrite(fd, m.text, strlen(m.text), off_t(m.at)) == ssize_t(strlen(m.text)); }

// The fd, the mapping and the other name all read `want`.
void expect_content(rt::Verdict& v, int fd, const char* map, const std::string& want, const char* when) {
  std::string got(kSize, '\0');
  if (pread(fd, got.data(), kSize, 0) != ssize_t(kSize) || differs(got.data(), want) >= 0)
    v.add("%s: the fd reads otherwise at %ld", when, differs(got.data(), want));
  if (differs(map, want) >= 0) v.add("%s: the mapping reads otherwise at %ld", when, differs(map, want));
  int other = open(kOther, O_RDONLY | O_CLOEXEC);
  std::string by_name(kSize, '\0');
  if (other < 0 || pread(other, by_name.data(), kSize, 0) != ssize_t(kSize) || differs(by_name.data(), want) >= 0)
    v.add("%s: %s reads otherwise at %ld (%s)", when, kOther, differs(by_name.data(), want),
          other < 0 ? strerror(errno) : "not the same file?");
  if (other >= 0) close(other);
}

std::vector<std::string> remap_links() {
  std::vector<std::string> out;
  DIR* d = opendir(".");
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (strncmp(e->d_name, ".ckpt_link_remap.", 17) == 0) out.push_back(e->d_name);
  closedir(d);
  return out;
}

}  // namespace

int main() {
  rt::block_term();
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  std::string path = std::string(cwd) + "/" + kName;
  unlink(kName);
  unlink(kOther);
  int fd = open(kName, O_RDWR | O_CREAT | O_EXCL, 0640);
  RT_CHECK(fd >= 0, "open %s: %s", kName, strerror(errno));
  std::string content = with({});
  RT_CHECK(write(fd, content.data(), kSize) == ssize_t(kSize), "write");
  RT_CHECK(link(kName, kOther) == 0, "link: %s", strerror(errno));
  void* m = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  RT_CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
  char* map = static_cast<char*>(m);
  RT_CHECK(unlink(kName) == 0, "unlink: %s", strerror(errno));
  RT_CHECK(write_at(fd, kFdBefore), "pwrite: %s", strerror(errno));
  memcpy(map + kMapBefore.at, kMapBefore.text, strlen(kMapBefore.text));
  RT_CHECK(lseek(fd, kOffset, SEEK_SET) == kOffset, "lseek");
  struct stat before;
  RT_CHECK(fstat(fd, &before) == 0 && before.st_nlink == 1, "the file should have 1 name left");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  struct stat st {};
  if (stat(kName, &st) == 0 || errno != ENOENT) v.add("%s exists again", kName);
  char link[PATH_MAX + 32] = {};
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1);
  std::string want_link = path + " (deleted)";
  if (n <= 0 || want_link != link) v.add("fd %d is '%s', want '%s'", fd, link, want_link.c_str());
  struct stat now {}, other {};
  if (fstat(fd, &now) != 0) v.add("fstat: %s", strerror(errno));
  if (stat(kOther, &other) != 0) v.add("stat %s: %s", kOther, strerror(errno));
  if (now.st_ino != other.st_ino || now.st_dev != other.st_dev)
    v.add("the fd is inode %llu, %s is inode %llu: not one file", (unsigned long long)now.st_ino, kOther,
          (unsigned long long)other.st_ino);
  if (now.st_size != off_t(kSize)) v.add("the file has size %lld, want %zu", (long long)now.st_size, kSize);
  if ((now.st_mode & 07777) != 0640) v.add("the file has mode %o", now.st_mode & 07777);
  if (lseek(fd, 0, SEEK_CUR) != kOffset) v.add("offset %lld, want %lld", (long long)lseek(fd, 0, SEEK_CUR), (long long)kOffset);
  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) v.add("the fd is not O_RDWR");
  rt::MapsEntry me = rt::maps_entry(0, map);
  if (!me.found || me.name != want_link || me.perms != "rw-s" || me.inode != now.st_ino)
    v.add("the mapping is %s '%s' inode %llu, want rw-s '%s' inode %llu", me.perms.c_str(), me.name.c_str(), me.inode,
          want_link.c_str(), (unsigned long long)now.st_ino);
  const char* mode = getenv("CKPT_TEST_MODE");
  std::vector<std::string> left = remap_links();
  if ((!mode || strcmp(mode, "leave-running") != 0) && !left.empty())
    v.add("%s is left in the directory (and %zu more)", left[0].c_str(), left.size() - 1);
  // Once the links are gone (or outside leave-running), the file's names:
  // the other one and the links of dumps of a tree that ran on.
  if (now.st_nlink != 1 + left.size())
    v.add("the file has %lu names, want %zu", (unsigned long)now.st_nlink, 1 + left.size());

  // In leave-running the original gave its verdict first, and its writes
  // reached the file the restored process has again: the same inode.
  std::string after = with({kFdBefore, kMapBefore, kFdAfter, kMapAfter, kOtherAfter});
  std::string got(kSize, '\0');
  bool written = mode && strcmp(mode, "leave-running") == 0 && pread(fd, got.data(), kSize, 0) == ssize_t(kSize) &&
                 differs(got.data(), after) < 0;
  expect_content(v, fd, map, written ? after : with({kFdBefore, kMapBefore}), "before the writes");
  if (!write_at(fd, kFdAfter)) v.add("pwrite: %s", strerror(errno));
  memcpy(map + kMapAfter.at, kMapAfter.text, strlen(kMapAfter.text));
  int w = open(kOther, O_WRONLY | O_CLOEXEC);
  if (w < 0 || !write_at(w, kOtherAfter)) v.add("write through %s: %s", kOther, strerror(errno));
  if (w >= 0) close(w);
  expect_content(v, fd, map, after, "after the writes");
  v.finish();
}
