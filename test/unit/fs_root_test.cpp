// restore --root PATH (files/fs_root.h): how the images' paths are mapped,
// what is refused, and a regular file restored through a root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "error_of.h"
#include "files/files.h"
#include "files/fs_root.h"
#include "files_fixture.h"
#include "temp_dir.h"

using namespace ckpt;
using test::error_of;

namespace {

TEST(FsRoot, SlashAndEmptyAreTheHost) {
  for (const char* dir : {"/", "", "//", "/."}) {
    SCOPED_TRACE(dir);
    files::FsRoot r = files::FsRoot::at(dir);
    EXPECT_TRUE(r.is_host());
    EXPECT_EQ(r.dir(), "");
    EXPECT_EQ(r.host("/etc/passwd"), "/etc/passwd");
    EXPECT_EQ(r.host("/"), "/");
  }
  EXPECT_TRUE(files::FsRoot().is_host());
}

TEST(FsRoot, AbsolutePathsGoUnderIt) {
  test::TempDir t("fsroot");
  files::FsRoot r = files::FsRoot::at(t.path() + "/");
  EXPECT_FALSE(r.is_host());
  EXPECT_EQ(r.dir(), t.path());
  EXPECT_EQ(r.host("/etc/passwd"), t.path() + "/etc/passwd");
  EXPECT_EQ(r.host("/"), t.path());  // the saved root "/" is PATH itself
}

TEST(FsRoot, MadeAbsolute) {
  test::TempDir t("fsroot");
  ASSERT_EQ(mkdir(t.file("sub").c_str(), 0700), 0);
  ASSERT_EQ(symlink("sub", t.file("link").c_str()), 0);
  EXPECT_EQ(files::FsRoot::at(t.file("link")).dir(), t.file("sub"));
  EXPECT_EQ(files::FsRoot::at(t.path() + "/sub/../sub/.").dir(), t.file("sub"));
}

TEST(FsRoot, RelativeAndEmptyPathsUnchanged) {
  test::TempDir t("fsroot");
  files::FsRoot r = files::FsRoot::at(t.path());
  EXPECT_EQ(r.host("relative/name"), "relative/name");
  EXPECT_EQ(r.host("sock"), "sock");
  EXPECT_EQ(r.host(""), "");
  // An abstract unix socket name is no path.
  EXPECT_EQ(r.host(std::string("\0abstract", 9)), std::string("\0abstract", 9));
}

TEST(FsRoot, MissingOrNotADirectoryRefusedByName) {
  EXPECT_EQ(error_of([] { files::FsRoot::at("/nonexistent-ckpt-root"); }),
            "cannot use /nonexistent-ckpt-root as the root (--root): No such file or directory");
  test::TempDir t("fsroot");
  std::string file = t.file("plain");
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  EXPECT_EQ(error_of([&] { files::FsRoot::at(file); }),
            "cannot use " + file + " as the root (--root): not a directory");
}

// Inside the root for a scope: "/" is PATH, and both the root and the
// working directory come back.
TEST(FsRoot, EnteredAndLeft) {
  test::TempDir t("fsroot");
  ASSERT_EQ(mkdir(t.file("etc").c_str(), 0700), 0);
  char before[4096];
  ASSERT_NE(getcwd(before, sizeof before), nullptr);
  struct stat host_root, dir, seen;
  ASSERT_EQ(stat("/", &host_root), 0);
  ASSERT_EQ(stat(t.path().c_str(), &dir), 0);
  {
    files::FsRoot::Entered inside = files::FsRoot::at(t.path()).enter();
    ASSERT_EQ(stat("/", &seen), 0);
    EXPECT_EQ(seen.st_ino, dir.st_ino);
    EXPECT_EQ(stat("/etc", &seen), 0);
    // A name bound in there keeps the name it was given.
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "/etc/sock");
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
    sockaddr_un got{};
    socklen_t len = sizeof got;
    ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&got), &len), 0);
    EXPECT_STREQ(got.sun_path, "/etc/sock");
    close(s);
    inside.leave();
    ASSERT_EQ(stat("/", &seen), 0);
    EXPECT_EQ(seen.st_ino, host_root.st_ino);
  }
  char after[4096];
  ASSERT_NE(getcwd(after, sizeof after), nullptr);
  EXPECT_STREQ(after, before);
  struct stat sock;
  EXPECT_EQ(lstat(t.file("etc/sock").c_str(), &sock), 0);
  EXPECT_TRUE(S_ISSOCK(sock.st_mode));
  // The host's root: nothing happens.
  files::FsRoot::Entered none = files::FsRoot().enter();
  ASSERT_EQ(stat("/", &seen), 0);
  EXPECT_EQ(seen.st_ino, host_root.st_ino);
}

class FsRootFiles : public test::FilesFixture {};

// A regular file is reopened at PATH + its path: a hard link of the very
// inode under the root (ckpt checks device and inode), then a root without it.
TEST_F(FsRootFiles, RegularFileLookedUpUnderTheRoot) {
  std::string path = tmp_ + "/data";
  int a = open_file(path, O_RDWR | O_CREAT);
  ASSERT_EQ(write(a, "hello world", 11), 11);
  ASSERT_EQ(lseek(a, 6, SEEK_SET), 6);
  files::FileTable table({});
  auto fdinfo = dump(table, {a});
  write_images(table, fdinfo, {{a, 210}});

  std::string root = tmp_ + "/root";
  std::filesystem::create_directories(root + tmp_);
  ASSERT_EQ(link(path.c_str(), (root + path).c_str()), 0);
  files::RestoreFdOptions opts;
  opts.root = files::FsRoot::at(root);
  files::check_files(images(), kImagePid, opts);
  files::restore_fds(images(), kImagePid, opts);
  char link[4096];
  ssize_t n = readlink("/proc/self/fd/210", link, sizeof link - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(link, size_t(n)), root + path);  // opened there, not at the host's path
  EXPECT_EQ(pos(210), 6);
  close(210);

  // An empty root: refused, naming the path as looked up.
  std::string empty = tmp_ + "/empty";
  ASSERT_EQ(mkdir(empty.c_str(), 0700), 0);
  opts.root = files::FsRoot::at(empty);
  std::string error = error_of([&] { files::check_files(images(), kImagePid, opts); });
  EXPECT_NE(error.find(empty + path + ": No such file or directory"), std::string::npos) << error;
  struct stat st;
  EXPECT_NE(fstat(210, &st), 0);  // nothing made
}

}  // namespace
