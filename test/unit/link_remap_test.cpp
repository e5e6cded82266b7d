// dump --link-remap (dump/link_remap.h, the ghost refusals of
// dump/shared_memory.h) and its restore (restore/link_remap.cpp): the links
// a dump makes and removes on failure, the refusals without the option, and
// the restore of a linked-back file from images written here, under the
// host's root and under --root.
//
// The AddressSanitizer variant of the unit tests does not build src/dump
// and src/restore.
#if !defined(__SANITIZE_ADDRESS__)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "error_of.h"
#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "dump/link_remap.h"
#include "dump/shared_memory.h"
#include "files/fs_root.h"
#include "image/image.h"
#include "restore/shared_memory.h"
#include "temp_dir.h"

using namespace ckpt;

namespace {

using test::error_of;

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string fd_link(int fd) {
  char link[512] = {};
  if (readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1) < 0) return "?";
  return link;
}

// In `dir`: "data" and its second name "other", "data" open and removed.
UniqueFd deleted_with_other_name(const std::string& dir, struct stat* st) {
  std::string data = dir + "/data", other = dir + "/other";
  UniqueFd fd(open(data.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  EXPECT_TRUE(fd) << strerror(errno);
  EXPECT_EQ(write(fd.get(), "content", 7), 7);
  EXPECT_EQ(link(data.c_str(), other.c_str()), 0) << strerror(errno);
  EXPECT_EQ(unlink(data.c_str()), 0);
  EXPECT_EQ(fstat(fd.get(), st), 0);
  return fd;
}

TEST(LinkRemapDump, RefusedWithoutTheOptionAndNotCopiedWithIt) {
  struct stat st {};
  st.st_mode = S_IFREG | 0600;
  st.st_nlink = 1;
  st.st_size = 1 << 30;
  EXPECT_EQ(dump::ghost_refusal("/srv/log", st, 1 << 20, false),
            "/srv/log was deleted but still has 1 other link: use --link-remap");
  st.st_nlink = 2;
  EXPECT_EQ(dump::ghost_refusal("/srv/log", st, 1 << 20, false),
            "/srv/log was deleted but still has 2 other links: use --link-remap");
  // Linked back, not copied: no --ghost-limit.
  EXPECT_EQ(dump::ghost_refusal("/srv/log", st, 1 << 20, true), "");
  EXPECT_TRUE(dump::by_link_remap(st, true));
  EXPECT_FALSE(dump::by_link_remap(st, false));
  // No name left: a ghost, with or without the option.
  st.st_nlink = 0;
  EXPECT_FALSE(dump::by_link_remap(st, true));
  EXPECT_NE(dump::ghost_refusal("/srv/log", st, 1 << 20, true).find("more than the ghost file limit"),
            std::string::npos);
  st.st_size = 10;
  EXPECT_EQ(dump::ghost_refusal("/srv/log", st, 1 << 20, true), "");
}

TEST(LinkRemapDump, NamesNextToTheFile) {
  EXPECT_EQ(dump::link_remap_name("/srv/data/log", "812", 3, 0), "/srv/data/.ckpt_link_remap.812.3");
  EXPECT_EQ(dump::link_remap_name("/srv/data/log", "812", 3, 2), "/srv/data/.ckpt_link_remap.812.3.2");
  EXPECT_EQ(dump::link_remap_name("/log", "812", 1, 0), "/.ckpt_link_remap.812.1");
}

TEST(LinkRemapDump, LinksTheInodeAndRemovesTheLinksUnlessKept) {
  test::TempDir tmp("link-remap-dump");
  struct stat st;
  UniqueFd fd = deleted_with_other_name(tmp.path(), &st);
  ASSERT_EQ(st.st_nlink, 1u);
  std::string first, second;
  {
    dump::LinkRemaps links;
    first = links.link(fd.get(), tmp.file("data"), "7", 1);
    EXPECT_EQ(first, tmp.file(".ckpt_link_remap.7.1"));
    // The name is taken (an earlier dump's link): the next one.
    second = links.link(fd.get(), tmp.file("data"), "7", 1);
    EXPECT_EQ(second, tmp.file(".ckpt_link_remap.7.1.1"));
    struct stat linked;
    ASSERT_EQ(stat(first.c_str(), &linked), 0);
    EXPECT_EQ(linked.st_ino, st.st_ino);
    ASSERT_EQ(fstat(fd.get(), &linked), 0);
    EXPECT_EQ(linked.st_nlink, 3u);
  }
  // A dump that failed: its links are gone, the other name stays.
  EXPECT_FALSE(exists(first));
  EXPECT_FALSE(exists(second));
  EXPECT_TRUE(exists(tmp.file("other")));
  {
    dump::LinkRemaps links;
    first = links.link(fd.get(), tmp.file("data"), "7", 1);
    links.keep();
  }
  EXPECT_TRUE(exists(first));
}

TEST(LinkRemapDump, AFileWithNoNameLeftCannotBeLinked) {
  test::TempDir tmp("link-remap-dump");
  UniqueFd fd(open(tmp.file("gone").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd);
  ASSERT_EQ(unlink(tmp.file("gone").c_str()), 0);
  dump::LinkRemaps links;
  std::string err = error_of([&] { links.link(fd.get(), tmp.file("gone"), "7", 1); });
  EXPECT_NE(err.find("cannot link the deleted file " + tmp.file("gone") + " back as " +
                     tmp.file(".ckpt_link_remap.7.1") + " (--link-remap)"),
            std::string::npos)
      << err;
}

class LinkRemapRestore : public ::testing::Test {
 protected:
  test::TempDir tmp_{"link-remap-restore"};
  image::ImageDir dir_ = image::ImageDir::create(tmp_.file("images"));

  // ghost-1.img of `path` linked back as `link` (paths as the images name
  // them), for inode `st`.
  void write_ghost(const std::string& path, const std::string& link, const struct stat& st) {
    image::ImageWriter w(dir_, image::Kind::Ghost, 1);
    img::GhostRecord rec;
    img::GhostHead* h = rec.mutable_head();
    h->set_id(1);
    h->set_path(path);
    h->set_mode(st.st_mode);
    h->set_uid(st.st_uid);
    h->set_gid(st.st_gid);
    h->set_size(uint64_t(st.st_size));
    h->set_dev(st.st_dev);
    h->set_ino(st.st_ino);
    h->set_link_remap(link);
    w.write(rec);
    w.commit();
  }
  restore::SharedMemory load(const files::FsRoot& root = {}) {
    restore::TreeImage tree;
    tree.procs.emplace_back();
    tree.procs.back().pstree.set_pid(4242);
    return restore::SharedMemory::load(dir_, tree, root);
  }
};

TEST_F(LinkRemapRestore, TakesTheInodeBackAndRemovesTheLinkOnCommit) {
  struct stat st;
  UniqueFd held = deleted_with_other_name(tmp_.path(), &st);
  std::string link;
  {
    dump::LinkRemaps links;
    link = links.link(held.get(), tmp_.file("data"), "42", 1);
    links.keep();
  }
  held.reset();
  write_ghost(tmp_.file("data"), link, st);
  {
    restore::SharedMemory sm = load();
    sm.check();
    sm.create(dir_);
    int fd = sm.fds().ghost.at(1);
    EXPECT_EQ(fd_link(fd), tmp_.file("data") + " (deleted)");
    struct stat now;
    ASSERT_EQ(fstat(fd, &now), 0);
    EXPECT_EQ(now.st_ino, st.st_ino);
    EXPECT_FALSE(exists(tmp_.file("data")));
    // Until the restore succeeded, the link stays: a failed restore can be
    // done again.
    EXPECT_TRUE(exists(link));
    ASSERT_EQ(pwrite(fd, "CONTENT", 7, 0), 7);
    sm.commit();
    EXPECT_FALSE(exists(link));
  }
  // One file with the other name.
  char buf[8] = {};
  UniqueFd other(open(tmp_.file("other").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(pread(other.get(), buf, 7, 0), 7);
  EXPECT_STREQ(buf, "CONTENT");
  // The images restore once.
  std::string err = error_of([&] { load().check(); });
  EXPECT_EQ(err, "cannot restore the deleted file " + tmp_.file("data") + ": its link " + link +
                     " (made by dump --link-remap) is gone; a restore of these images removes it once it "
                     "succeeded, so they restore once");
}

TEST_F(LinkRemapRestore, AFailedRestoreKeepsTheLink) {
  struct stat st;
  UniqueFd held = deleted_with_other_name(tmp_.path(), &st);
  ASSERT_EQ(link(tmp_.file("other").c_str(), tmp_.file(".ckpt_link_remap.42.1").c_str()), 0);
  write_ghost(tmp_.file("data"), tmp_.file(".ckpt_link_remap.42.1"), st);
  {
    restore::SharedMemory sm = load();
    sm.check();
    sm.create(dir_);
  }  // no commit
  EXPECT_TRUE(exists(tmp_.file(".ckpt_link_remap.42.1")));
  EXPECT_FALSE(exists(tmp_.file("data")));
}

TEST_F(LinkRemapRestore, RefusesATakenPathAndAnotherInode) {
  struct stat st;
  UniqueFd held = deleted_with_other_name(tmp_.path(), &st);
  std::string link = tmp_.file(".ckpt_link_remap.42.1");
  ASSERT_EQ(::link(tmp_.file("other").c_str(), link.c_str()), 0);
  write_ghost(tmp_.file("data"), link, st);
  UniqueFd taken(open(tmp_.file("data").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  EXPECT_EQ(error_of([&] { load().check(); }), "cannot restore the deleted file " + tmp_.file("data") +
                                                   " from its link " + link + " (dump --link-remap): " +
                                                   tmp_.file("data") + " is taken by another file");
  ASSERT_EQ(unlink(tmp_.file("data").c_str()), 0);
  // The link now names another file.
  ASSERT_EQ(unlink(link.c_str()), 0);
  UniqueFd other(open(link.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  std::string err = error_of([&] { load().check(); });
  EXPECT_NE(err.find("its link " + link + " (dump --link-remap): it is no longer the file that was dumped"),
            std::string::npos)
      << err;
}

TEST_F(LinkRemapRestore, LooksUpPathsUnderTheRoot) {
  // The dumped tree's file system is under tmp/root: the images say /srv/data.
  std::string root = tmp_.file("root");
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/srv").c_str(), 0755), 0);
  struct stat st;
  UniqueFd held = deleted_with_other_name(root + "/srv", &st);
  ASSERT_EQ(link((root + "/srv/other").c_str(), (root + "/srv/.ckpt_link_remap.42.1").c_str()), 0);
  held.reset();
  write_ghost("/srv/data", "/srv/.ckpt_link_remap.42.1", st);
  restore::SharedMemory sm = load(files::FsRoot::at(root));
  sm.check();
  sm.create(dir_);
  struct stat now;
  ASSERT_EQ(fstat(sm.fds().ghost.at(1), &now), 0);
  EXPECT_EQ(now.st_ino, st.st_ino);
  EXPECT_EQ(fd_link(sm.fds().ghost.at(1)), root + "/srv/data (deleted)");
  sm.commit();
  EXPECT_FALSE(exists(root + "/srv/.ckpt_link_remap.42.1"));
  EXPECT_TRUE(exists(root + "/srv/other"));
}

}  // namespace
#endif
