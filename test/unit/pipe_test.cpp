// The pipe module on our own fds: what dump() saves (without consuming the
// data), how finish() groups the ends, what restore makes of it, and
// corrupted entries refused with a reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "ckpt/error.h"
#include "files/files.h"
#include "files/module.h"
#include "error_of.h"
#include "files_fixture.h"
#include "image/image.h"

using namespace ckpt;

namespace {

class PipeTest : public test::FilesFixture {
 protected:
  // Writes the images with each fd moved to `renumber[fd]` and restores them.
  void restore(const std::vector<img::FileEntry>& entries, std::vector<img::FdinfoEntry> fdinfo,
               const std::map<int, int>& renumber) {
    write_files(entries);
    write_fdinfo(kImagePid, std::move(fdinfo), renumber);
    files::FilesImage image = images();
    files::check_files(image, kImagePid, {});
    files::restore_fds(image, kImagePid, {});
  }
  static int queued(int fd) {
    int n = -1;
    EXPECT_EQ(ioctl(fd, FIONREAD, &n), 0);
    return n;
  }
  static std::string read_some(int fd, size_t n) {
    std::string s(n, '\0');
    ssize_t got = read(fd, s.data(), n);
    return s.substr(0, got > 0 ? size_t(got) : 0);
  }
};

using test::error_of;

TEST_F(PipeTest, BothEndsAreOneGroupWithTheDataLeftInPlace) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  keep(p[0]);
  keep(p[1]);
  ASSERT_EQ(fcntl(p[1], F_SETPIPE_SZ, 256 * 1024), 256 * 1024);
  ASSERT_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  ASSERT_EQ(write(p[1], "hello pipe", 10), 10);

  files::FileTable table({});
  auto fdinfo = dump(table, {p[0], p[1]});
  table.finish({});
  ASSERT_EQ(table.entries().size(), 2u);
  const img::FileEntry& r = table.entries()[0];
  const img::FileEntry& w = table.entries()[1];
  EXPECT_EQ(r.kind(), img::FILE_PIPE);
  EXPECT_EQ(r.group(), r.id());
  EXPECT_EQ(w.group(), r.id());
  EXPECT_EQ(r.pipe().data(), "hello pipe");
  EXPECT_FALSE(w.pipe().has_data());
  EXPECT_EQ(r.pipe().size(), 256u * 1024);
  EXPECT_EQ(r.pipe().flags(), uint32_t(O_RDONLY));
  EXPECT_EQ(w.pipe().flags(), uint32_t(O_WRONLY | O_NONBLOCK));
  // The dump read nothing out of the pipe.
  EXPECT_EQ(queued(p[0]), 10);

  restore(table.entries(), fdinfo, {{p[0], 220}, {p[1], 221}});
  EXPECT_EQ(queued(220), 10);
  EXPECT_EQ(fcntl(220, F_GETPIPE_SZ), 256 * 1024);
  EXPECT_EQ(fcntl(220, F_GETFL), O_RDONLY);
  EXPECT_EQ(fcntl(221, F_GETFL), O_WRONLY | O_NONBLOCK);
  EXPECT_EQ(read_some(220, 100), "hello pipe");
  ASSERT_EQ(write(221, "more", 4), 4);
  EXPECT_EQ(read_some(220, 100), "more");
  // A new pipe: the old one still has its bytes.
  EXPECT_EQ(queued(p[0]), 10);
}

TEST_F(PipeTest, ALoneReadEndGetsItsDataThenEof) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  keep(p[0]);
  ASSERT_EQ(write(p[1], "last words", 10), 10);
  close(p[1]);
  files::FileTable table({});
  auto fdinfo = dump(table, {p[0]});
  table.finish({});
  EXPECT_FALSE(table.entries()[0].has_group());
  restore(table.entries(), fdinfo, {{p[0], 222}});
  EXPECT_EQ(read_some(222, 100), "last words");
  EXPECT_EQ(read_some(222, 100), "");  // EOF: no writer was made
}

TEST_F(PipeTest, AFifoIsReopenedByPathWithItsData) {
  std::string path = tmp_ + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  int r = keep(open(path.c_str(), O_RDONLY | O_NONBLOCK));
  int w = keep(open(path.c_str(), O_WRONLY));
  ASSERT_EQ(write(w, "fifo data", 9), 9);
  std::vector<img::FileEntry> entries;
  std::vector<img::FdinfoEntry> fdinfo;
  {
    files::FileTable table({});
    fdinfo = dump(table, {r, w});
    table.finish({});
    entries = table.entries();
  }
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].kind(), img::FILE_FIFO);
  EXPECT_EQ(entries[1].group(), entries[0].id());
  EXPECT_EQ(entries[0].pipe().data(), "fifo data");
  EXPECT_EQ(entries[0].reg().identity().path(), path);
  // At restore the FIFO must be empty: here the old ends (and the table's
  // duplicates) go first.
  owned_.clear();
  restore(entries, fdinfo, {{r, 223}, {w, 224}});
  struct stat st;
  ASSERT_EQ(fstat(223, &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(fcntl(223, F_GETFL) & ~0100000, O_RDONLY | O_NONBLOCK);
  EXPECT_EQ(read_some(223, 100), "fifo data");
  ASSERT_EQ(write(224, "x", 1), 1);
  EXPECT_EQ(read_some(223, 100), "x");
}

TEST_F(PipeTest, CorruptedEntriesAreRefusedWithAReason) {
  img::FileEntry e;
  e.set_id(1);
  e.set_kind(img::FILE_PIPE);
  const files::FileModule& m = files::module_of(img::FILE_PIPE);
  EXPECT_EQ(error_of([&] { m.check(e, {}); }), "its file entry has no pipe");
  img::PipeEntry* p = e.mutable_pipe();
  p->set_ino(1);
  p->set_flags(O_RDONLY);
  p->set_size(4096);
  p->set_data(std::string(5000, 'x'));
  EXPECT_EQ(error_of([&] { m.check(e, {}); }), "its pipe holds 5000 bytes, more than its size of 4096");
  p->clear_data();
  p->set_size(0);
  EXPECT_EQ(error_of([&] { m.check(e, {}); }), "its pipe size of 0 bytes is not possible");
  p->set_size(4096);
  p->set_flags(O_RDWR | O_WRONLY);
  EXPECT_NE(error_of([&] { m.check(e, {}); }).find("which ckpt does not write"), std::string::npos);
  p->set_flags(O_RDONLY);
  img::FileEntry fifo;
  fifo.set_id(2);
  fifo.set_kind(img::FILE_FIFO);
  *fifo.mutable_pipe() = e.pipe();
  fifo.mutable_pipe()->set_size(4096);
  EXPECT_EQ(error_of([&] { files::module_of(img::FILE_FIFO).check(fifo, {}); }), "its file entry has no path");
}

}  // namespace
