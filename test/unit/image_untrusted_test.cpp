// The image reader trusts nothing about the file it is given: not what it
// is (a symlink, a FIFO, a device, a directory), not its size, not that a
// single-record image ends after its record.  Every refusal names the file
// and the reason, and none blocks or reads without end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "core.pb.h"
#include "files.pb.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "show/show.h"

#include "temp_dir.h"

using namespace ckpt;
using namespace ckpt::image;

namespace {

struct TempDir : ckpt::test::TempDir {
  TempDir() : ckpt::test::TempDir("image-untrusted") {}
};

void write_inventory(const ImageDir& dir) {
  img::InventoryEntry inv;
  inv.set_img_version(kFormatVersion);
  inv.set_root_pid(1);
  inv.set_page_size(4096);
  inv.set_tool_version("test");
  inv.set_kernel("test");
  inv.set_arch("x86_64");
  ImageWriter w(dir, Kind::Inventory);
  w.write(inv);
  w.commit();
}

// The message of what reading `kind` in `dir` throws, or "" if it reads.
std::string refusal(const ImageDir& dir, Kind kind, std::optional<uint64_t> id = std::nullopt) {
  try {
    ImageReader r(dir, kind, id);
    std::unique_ptr<google::protobuf::Message> m(info(kind).prototype->New());
    while (r.read(*m)) {
    }
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

std::string show_refusal(const std::string& path) {
  try {
    show::to_json(path);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

void append(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

TEST(UntrustedImage, FifoIsRefusedWithoutBlocking) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  ASSERT_EQ(mkfifo(tmp.file("core-812.img").c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(refusal(dir, Kind::Core, 812),
            "cannot read image " + tmp.file("core-812.img") + ": it is a FIFO, not a regular file");
  EXPECT_EQ(show_refusal(tmp.file("core-812.img")),
            "cannot read image " + tmp.file("core-812.img") + ": it is a FIFO, not a regular file");
  EXPECT_EQ(show_refusal(tmp.path()),
            "cannot read image " + tmp.file("core-812.img") + ": it is a FIFO, not a regular file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(UntrustedImage, SymlinksAreNotFollowed) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_inventory(dir);
  // Even to a perfectly good image.
  ASSERT_EQ(rename(tmp.file("inventory.img").c_str(), tmp.file("real").c_str()), 0);
  ASSERT_EQ(symlink(tmp.file("real").c_str(), tmp.file("inventory.img").c_str()), 0);
  ASSERT_EQ(symlink("/dev/zero", tmp.file("fs-3.img").c_str()), 0);
  EXPECT_EQ(refusal(dir, Kind::Inventory),
            "cannot read image " + tmp.file("inventory.img") + ": it is a symbolic link, not a regular file");
  EXPECT_EQ(refusal(dir, Kind::Fs, 3),
            "cannot read image " + tmp.file("fs-3.img") + ": it is a symbolic link, not a regular file");
  EXPECT_EQ(show_refusal(tmp.file("fs-3.img")),
            "cannot read image " + tmp.file("fs-3.img") + ": it is a symbolic link, not a regular file");
  EXPECT_THROW(dir.regular_size(Kind::Fs, 3), Error);
}

TEST(UntrustedImage, PagesBehindASymlinkAreRefused) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  ASSERT_EQ(symlink("/dev/urandom", tmp.file("pages-5.img").c_str()), 0);
  try {
    open_pages(dir, 5, false);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read image " + tmp.file("pages-5.img") + ": it is a symbolic link, not a regular file");
  }
}

TEST(UntrustedImage, DirectoryIsRefused) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  ASSERT_EQ(mkdir(tmp.file("mm-4.img").c_str(), 0700), 0);
  EXPECT_EQ(refusal(dir, Kind::Mm, 4),
            "cannot read image " + tmp.file("mm-4.img") + ": it is a directory, not a regular file");
}

TEST(UntrustedImage, SparseGiantIsRefusedBeforeAnyRead) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_inventory(dir);
  ASSERT_EQ(truncate(tmp.file("inventory.img").c_str(), 50ll << 30), 0);
  EXPECT_EQ(refusal(dir, Kind::Inventory),
            "cannot read image " + tmp.file("inventory.img") +
                ": it is 53687091200 bytes, more than the 1 MiB an image of its kind may be");
  EXPECT_EQ(show_refusal(tmp.file("inventory.img")),
            "cannot read image " + tmp.file("inventory.img") +
                ": it is 53687091200 bytes, more than the 1 MiB an image of its kind may be");
}

TEST(UntrustedImage, EveryRecordKindHasALimit) {
  for (const KindInfo& k : kinds()) {
    if (!k.prototype) continue;
    EXPECT_GE(k.max_size, uint64_t(1) << 20) << k.name;
    EXPECT_LE(k.max_size, uint64_t(4) << 30) << k.name;
  }
  EXPECT_EQ(info(Kind::Inventory).max_size, uint64_t(1) << 20);
}

TEST(UntrustedImage, HugeLengthIsRefusedBeforeAllocating) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_inventory(dir);
  std::string path = tmp.file("inventory.img");
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
  ASSERT_EQ(pwrite(fd, huge, 4, 32), 4);  // the first length, after the 32-byte header
  close(fd);
  EXPECT_EQ(refusal(dir, Kind::Inventory),
            "corrupted image " + path + ": record 1 is too large: length 2147483647 exceeds the limit of 67108864 bytes");
}

TEST(UntrustedImage, ReadOnlyRefusesWhatFollowsTheRecord) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_inventory(dir);
  append(tmp.file("inventory.img"), "garbage!");
  img::InventoryEntry inv;
  ImageReader r(dir, Kind::Inventory);
  try {
    r.read_only(inv);
    FAIL() << "no exception";
  } catch (const CorruptedImage& e) {
    EXPECT_EQ(std::string(e.what()), "corrupted image " + tmp.file("inventory.img") +
                                         ": 8 bytes after record 1, where the image ends");
  }
}

TEST(UntrustedImage, ReadOnlyRefusesASecondRecordAndShowToo) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  img::FsEntry fs;
  fs.set_cwd("/");
  fs.set_root("/");
  fs.set_umask(022);
  {
    ImageWriter w(dir, Kind::Fs, 9);
    w.write(fs);
    w.write(fs);
    w.commit();
  }
  img::FsEntry got;
  ImageReader r(dir, Kind::Fs, 9);
  EXPECT_THROW(r.read_only(got), CorruptedImage);
  EXPECT_EQ(show_refusal(tmp.file("fs-9.img")),
            "corrupted image " + tmp.file("fs-9.img") + ": a second record, where a fs image holds one");
}

TEST(UntrustedImage, ReadOnlyAcceptsTheOneRecord) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_inventory(dir);
  img::InventoryEntry inv;
  ImageReader r(dir, Kind::Inventory);
  r.read_only(inv);
  EXPECT_EQ(inv.root_pid(), 1u);
}

TEST(UntrustedImage, RegularSizeAndImageNames) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  EXPECT_EQ(dir.regular_size(Kind::Inventory), std::nullopt);
  write_inventory(dir);
  EXPECT_GT(dir.regular_size(Kind::Inventory).value(), 16u);
  append(tmp.file("notes.txt"), "x");
  append(tmp.file("core-3.img.tmp"), "x");
  append(tmp.file("core-3.img"), "x");
  EXPECT_EQ(dir.image_names(), (std::vector<std::string>{"core-3.img", "inventory.img"}));
}

// Each dump draws a set id that every image it writes carries; a directory
// opened for reading expects the inventory's in every image, so a file of
// another dump (even of the same pid, with the same shape) is refused.
TEST(UntrustedImage, AnImageOfAnotherDumpIsRefused) {
  TempDir a, b;
  img::FsEntry fs;
  fs.set_cwd("/");
  fs.set_root("/");
  fs.set_umask(022);
  {
    ImageDir dir = ImageDir::create(a.path());
    write_inventory(dir);
    ImageWriter w(dir, Kind::Fs, 7);
    w.write(fs);
    w.commit();
  }
  {
    ImageDir dir = ImageDir::create(b.path());
    write_inventory(dir);
    ImageWriter w(dir, Kind::Fs, 7);
    w.write(fs);
    w.commit();
  }
  ImageDir mine = ImageDir::open(a.path());
  ASSERT_TRUE(mine.inventory_set_id());
  EXPECT_EQ(refusal(mine, Kind::Fs, 7), "");
  ASSERT_EQ(rename(b.file("fs-7.img").c_str(), a.file("fs-7.img").c_str()), 0);
  std::string msg = refusal(ImageDir::open(a.path()), Kind::Fs, 7);
  EXPECT_NE(msg.find("corrupted image " + a.file("fs-7.img") + ": it belongs to another dump (image set "),
            std::string::npos) << msg;
  EXPECT_NE(msg.find(", the inventory's is " + set_id_text(*mine.inventory_set_id()) + ")"), std::string::npos) << msg;
  // Two dumps into one directory draw two sets.
  EXPECT_NE(ImageDir::create(a.path()).write_set_id(), ImageDir::create(a.path()).write_set_id());
}
