// The image layer: every kind round-trips, writers are atomic and private,
// and readers turn every kind of damage into CorruptedImage, never a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "core.pb.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "pstree.pb.h"

#include "temp_dir.h"

using namespace ckpt;
using namespace ckpt::image;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

namespace {

// Each test's images live in a directory of their own.
struct TempDir : ckpt::test::TempDir {
  TempDir() : ckpt::test::TempDir("image-test") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Sets every field of `m` (one element of each repeated field, the last
// member of each oneof), recursively, with values derived from `seed`: a
// complete record of any kind without naming its fields.
void fill(Message* m, uint64_t& seed, int depth = 0) {
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); i++) {
    const FieldDescriptor* f = d->field(i);
    uint64_t v = ++seed;
    bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (depth < 4) fill(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), seed, depth + 1);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        rep ? r->AddUInt64(m, f, v << 20) : r->SetUInt64(m, f, v << 20);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        rep ? r->AddInt64(m, f, -int64_t(v)) : r->SetInt64(m, f, -int64_t(v));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        rep ? r->AddUInt32(m, f, uint32_t(v)) : r->SetUInt32(m, f, uint32_t(v));
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        rep ? r->AddInt32(m, f, -int32_t(v)) : r->SetInt32(m, f, -int32_t(v));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        rep ? r->AddBool(m, f, v & 1) : r->SetBool(m, f, v & 1);
        break;
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* e = f->enum_type()->value(int(v % uint64_t(f->enum_type()->value_count())));
        rep ? r->AddEnum(m, f, e) : r->SetEnum(m, f, e);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string s = f->type() == FieldDescriptor::TYPE_BYTES ? std::string("\0\xff\x01", 3) + char(v) : "s" + std::to_string(v);
        rep ? r->AddString(m, f, s) : r->SetString(m, f, s);
        break;
      }
      default:
        break;
    }
  }
}

std::unique_ptr<Message> sample(Kind kind, uint64_t seed) {
  std::unique_ptr<Message> m(info(kind).prototype->New());
  fill(m.get(), seed);
  return m;
}

img::PstreeEntry pstree(uint32_t pid) {
  img::PstreeEntry e;
  e.set_pid(pid);
  e.set_ppid(pid - 1);
  e.set_pgid(pid);
  e.set_sid(1);
  e.add_threads(pid);
  return e;
}

// A core image of two records; returns its path.
std::string write_core(const TempDir& tmp) {
  ImageDir dir = ImageDir::open(tmp.path());
  ImageWriter w(dir, Kind::Core, 1);
  w.write(*sample(Kind::Core, 1));
  w.write(*sample(Kind::Core, 1000));
  w.commit();
  return tmp.file("core-1.img");
}

// Reads every record of the image at `path`; returns the CorruptedImage
// message, or "" if the image is intact.
std::string corruption_of(const std::string& path) {
  try {
    ImageReader r(path);
    std::unique_ptr<Message> m(info(r.kind()).prototype->New());
    while (r.read(*m)) {
    }
  } catch (const CorruptedImage& e) {
    return e.what();
  }
  return "";
}

std::string le32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

uint32_t le32_at(const std::string& bytes, size_t at) {
  uint32_t v;
  memcpy(&v, bytes.data() + at, sizeof(v));
  return v;
}

}  // namespace

TEST(ImageKinds, NamesAndMagicsAreDistinct) {
  std::set<std::string> names;
  std::set<uint32_t> magics;
  for (const KindInfo& k : kinds()) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    if (k.kind == Kind::Pages || k.kind == Kind::ShmemPages) {
      EXPECT_EQ(k.prototype, nullptr);
      continue;
    }
    EXPECT_NE(k.prototype, nullptr) << k.name;
    EXPECT_TRUE(magics.insert(k.magic).second) << k.name;
    EXPECT_EQ(&info(k.kind), &k);
  }
  EXPECT_EQ(kinds().size(), 15u);
}

TEST(ImageKinds, FileNames) {
  EXPECT_EQ(filename(Kind::Inventory), "inventory.img");
  EXPECT_EQ(filename(Kind::Core, 1234), "core-1234.img");
  EXPECT_EQ(filename(Kind::Pages, 3), "pages-3.img");
  EXPECT_EQ(filename(Kind::ShmemPages, 3), "shmem-pages-3.img");
  EXPECT_EQ(parse_filename("shmem-pages-3.img")->kind, Kind::ShmemPages);
  EXPECT_EQ(parse_filename("shmem-3.img")->kind, Kind::Shmem);
  EXPECT_EQ(parse_filename("ghost-12.img")->id, 12u);
  EXPECT_FALSE(parse_filename("shmem-pages.img"));
  EXPECT_THROW(filename(Kind::Core), Error);
  EXPECT_THROW(filename(Kind::Files, 1), Error);
  for (const KindInfo& k : kinds()) {
    std::optional<uint64_t> id;
    if (k.per_id) id = 77;
    auto parsed = parse_filename(filename(k.kind, id));
    ASSERT_TRUE(parsed) << k.name;
    EXPECT_EQ(parsed->kind, k.kind);
    EXPECT_EQ(parsed->id, id);
  }
  EXPECT_EQ(kind_of_filename("pages-1.img"), Kind::Pages);
  EXPECT_EQ(kind_of_filename("pagemap-1.img"), Kind::Pagemap);
  EXPECT_EQ(kind_of_filename("fs-9.img"), Kind::Fs);
  EXPECT_EQ(kind_of_filename("files.img"), Kind::Files);
  for (const char* bad : {"core.img", "core-.img", "core-x.img", "core-1x.img", "inventory-1.img", "dump.log",
                          "core-1.img.tmp", ".img", "", "core-1", "xcore-1.img", "core--1.img",
                          "core-99999999999999999999999.img"})
    EXPECT_FALSE(kind_of_filename(bad)) << bad;
}

TEST(ImageDir, CreateMakesAPrivateDirectory) {
  TempDir tmp;
  std::string path = tmp.file("images");
  ImageDir dir = ImageDir::create(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(dir.path(), path);
  EXPECT_FALSE(dir.exists(Kind::Inventory));
  EXPECT_EQ(dir.path_of(Kind::Core, 5), path + "/core-5.img");
  ImageDir::create(path);  // existing is fine
  dir.sync();
  try {
    ImageDir::open(tmp.file("missing"));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open images directory " + tmp.file("missing") + ": No such file or directory");
  }
}

TEST(ImageRoundTrip, EveryKind) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  for (const KindInfo& k : kinds()) {
    if (!k.prototype) continue;
    std::optional<uint64_t> id;
    if (k.per_id) id = 42;
    std::vector<std::unique_ptr<Message>> records;
    for (uint64_t seed : {1, 500, 9000}) records.push_back(sample(k.kind, seed));
    records.emplace_back(k.prototype->New());  // an empty record too, where that is valid
    if (!records.back()->IsInitialized()) records.pop_back();
    {
      ImageWriter w(dir, k.kind, id);
      for (const auto& r : records) w.write(*r);
      w.commit();
    }
    ASSERT_TRUE(dir.exists(k.kind, id)) << k.name;
    ImageReader reader(dir, k.kind, id);
    EXPECT_EQ(reader.kind(), k.kind);
    EXPECT_EQ(reader.version(), kFormatVersion);
    EXPECT_EQ(reader.name(), dir.path_of(k.kind, id));
    std::unique_ptr<Message> got(k.prototype->New());
    for (const auto& want : records) {
      ASSERT_TRUE(reader.read(*got)) << k.name;
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *want))
          << k.name << "\nwant " << want->ShortDebugString() << "\ngot  " << got->ShortDebugString();
    }
    EXPECT_FALSE(reader.read(*got)) << k.name;
    EXPECT_FALSE(reader.read(*got)) << k.name;  // EOF is sticky
  }
}

TEST(ImageRoundTrip, ManyAndLargeRecordsCrossTheWriteBuffer) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  img::CoreEntry big = static_cast<img::CoreEntry&>(*sample(Kind::Core, 1));
  big.mutable_thread()->set_xsave(std::string(3 << 20, 'x'));
  {
    ImageWriter w(dir, Kind::Pstree);
    for (uint32_t pid = 1; pid <= 20000; pid++) w.write(pstree(pid));
    w.commit();
    ImageWriter c(dir, Kind::Core, 1);
    c.write(big);
    c.write(*sample(Kind::Core, 2));
    c.commit();
  }
  ImageReader r(dir, Kind::Pstree);
  img::PstreeEntry e;
  uint32_t n = 0;
  while (r.read(e)) {
    n++;
    ASSERT_EQ(e.pid(), n);
  }
  EXPECT_EQ(n, 20000u);
  ImageReader c(dir, Kind::Core, 1);
  img::CoreEntry got;
  c.read_one(got);
  EXPECT_EQ(got.thread().xsave(), big.thread().xsave());
  c.read_one(got);
  EXPECT_FALSE(c.read(got));
}

TEST(ImageWriter, FileIsPrivateWhateverTheUmask) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  mode_t old = umask(0);
  {
    ImageWriter w(dir, Kind::Pstree);
    w.write(pstree(1));
    w.commit();
  }
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(tmp.file("pstree.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(ImageWriter, UncommittedLeavesNoFile) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  {
    ImageWriter w(dir, Kind::Pstree);
    w.write(pstree(1));
    EXPECT_TRUE(std::filesystem::exists(tmp.file("pstree.img.tmp")));
    EXPECT_FALSE(dir.exists(Kind::Pstree));
  }
  {
    // A failed write (a record missing required fields) is abandoned too.
    ImageWriter w(dir, Kind::Inventory);
    img::InventoryEntry partial;
    partial.set_arch("x86_64");
    try {
      w.write(partial);
      FAIL() << "no exception";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("missing required fields"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

TEST(ImageWriter, CommitReplacesAnOldImageAndAStaleTmp) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  write_bytes(tmp.file("pstree.img.tmp"), "stale");
  for (uint32_t pid : {10, 20}) {
    ImageWriter w(dir, Kind::Pstree);
    w.write(pstree(pid));
    w.commit();
    EXPECT_THROW(w.commit(), Error);
    EXPECT_THROW(w.write(pstree(1)), Error);
  }
  ImageReader r(dir, Kind::Pstree);
  img::PstreeEntry e;
  r.read_one(e);
  EXPECT_EQ(e.pid(), 20u);
  EXPECT_FALSE(r.read(e));
  EXPECT_FALSE(std::filesystem::exists(tmp.file("pstree.img.tmp")));
}

TEST(ImageWriter, RefusesTheWrongMessageAndRawKinds) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  ImageWriter w(dir, Kind::Core, 1);
  try {
    w.write(pstree(1));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write a ckpt.img.PstreeEntry to image " + tmp.file("core-1.img") + ": it holds ckpt.img.CoreEntry");
  }
  EXPECT_THROW(ImageWriter(dir, Kind::Pages, 1), Error);
}

TEST(ImageReader, DeducesTheKindFromTheFileName) {
  TempDir tmp;
  std::string path = write_core(tmp);
  ImageReader r(path);
  EXPECT_EQ(r.kind(), Kind::Core);
  EXPECT_EQ(r.name(), path);
  img::CoreEntry core;
  r.read_one(core);
  // Reading another message than the kind's is a bug, not a corruption.
  ImageReader r2(path);
  img::PstreeEntry wrong;
  try {
    r2.read(wrong);
    FAIL() << "no exception";
  } catch (const CorruptedImage&) {
    FAIL() << "a caller's mistake reported as corruption";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("it holds ckpt.img.CoreEntry"), std::string::npos) << e.what();
  }
  // Named like another kind: the magic gives it away.
  std::filesystem::copy_file(path, tmp.file("fs-1.img"));
  EXPECT_EQ(corruption_of(tmp.file("fs-1.img")),
            "corrupted image " + tmp.file("fs-1.img") + ": bad magic 0x434f5245 (expected fs image)");
  std::filesystem::copy_file(path, tmp.file("notes.txt"));
  EXPECT_THROW(ImageReader(tmp.file("notes.txt")), Error);
  EXPECT_THROW(ImageReader(tmp.file("pages-1.img")), Error);
}

TEST(ImageReader, MissingFile) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  try {
    ImageReader r(dir, Kind::Core, 7);
    FAIL() << "no exception";
  } catch (const CorruptedImage&) {
    FAIL() << "a missing file is not a corrupted one";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open image " + tmp.file("core-7.img") + ": No such file or directory");
  }
}

TEST(ImageReader, ReadOneOfAnEmptyImage) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  ImageWriter(dir, Kind::Inventory).commit();
  ImageReader r(dir, Kind::Inventory);
  img::InventoryEntry inv;
  try {
    r.read_one(inv);
    FAIL() << "no exception";
  } catch (const CorruptedImage& e) {
    EXPECT_EQ(std::string(e.what()), "corrupted image " + tmp.file("inventory.img") +
                                         ": no record where one ckpt.img.InventoryEntry is expected");
  }
}

constexpr size_t kHeader = 32;  // signature, magic, version, set id

// Each kind of damage, with the message a user would read.
class ImageCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = write_core(tmp_);
    good_ = read_bytes(path_);
    first_len_ = le32_at(good_, kHeader);
    second_at_ = kHeader + 4 + first_len_;
    ASSERT_EQ(corruption_of(path_), "");
  }
  std::string damaged(const std::string& bytes) {
    write_bytes(path_, bytes);
    return corruption_of(path_);
  }
  std::string prefix() const { return "corrupted image " + path_ + ": "; }

  TempDir tmp_;
  std::string path_, good_;
  uint32_t first_len_ = 0;
  size_t second_at_ = 0;
};

TEST_F(ImageCorruption, CutInsideARecord) {
  uint32_t second_len = le32_at(good_, second_at_);
  EXPECT_EQ(damaged(good_.substr(0, good_.size() - 5)),
            prefix() + "record 2 is truncated: length " + std::to_string(second_len) + " but " +
                std::to_string(second_len - 5) + " bytes left");
}

TEST_F(ImageCorruption, CutInsideALength) {
  EXPECT_EQ(damaged(good_.substr(0, second_at_ + 3)),
            prefix() + "record 2 is truncated: 3 of the 4 bytes of its length");
}

TEST_F(ImageCorruption, FlippedByteInALength) {
  std::string bytes = good_;
  bytes[kHeader + 2] ^= 0x01;  // +64 KiB
  EXPECT_EQ(damaged(bytes), prefix() + "record 1 is truncated: length " + std::to_string(first_len_ + 65536) +
                                " but " + std::to_string(good_.size() - kHeader - 4) + " bytes left");
  bytes = good_;
  bytes[kHeader + 3] = char(0xff);
  EXPECT_EQ(damaged(bytes), prefix() + "record 1 is too large: length " +
                                std::to_string(first_len_ | 0xff000000u) + " exceeds the limit of 67108864 bytes");
}

TEST_F(ImageCorruption, Header) {
  EXPECT_EQ(damaged(""), prefix() + "empty file, no header");
  EXPECT_EQ(damaged(good_.substr(0, 10)), prefix() + "header is truncated: 10 of 32 bytes");
  EXPECT_EQ(damaged("XKPTIMG" + good_.substr(7)), prefix() + "bad signature (not a ckpt image)");
  EXPECT_EQ(damaged(good_.substr(0, 8) + le32(0x50535452) + good_.substr(12)),
            prefix() + "bad magic 0x50535452 (expected core image)");
  EXPECT_EQ(damaged(good_.substr(0, 12) + le32(1) + good_.substr(16)),
            prefix() + "unsupported format version 1 (this ckpt reads 2)");
  EXPECT_EQ(damaged(good_.substr(0, kHeader)), "");  // a header alone is an image without records
}

TEST_F(ImageCorruption, GarbageRecord) {
  std::string garbage = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  EXPECT_EQ(damaged(good_.substr(0, second_at_) + le32(uint32_t(garbage.size())) + garbage),
            prefix() + "record 2 does not parse as ckpt.img.CoreEntry");
  // Well-formed protobuf that lacks what every core record must have.
  EXPECT_EQ(damaged(good_.substr(0, kHeader) + le32(0)),
            prefix() + "record 1 does not parse as ckpt.img.CoreEntry: missing required fields thread");
}

TEST_F(ImageCorruption, ReadAfterCorruptionThrowsAgain) {
  write_bytes(path_, good_.substr(0, good_.size() - 1));
  ImageReader r(path_);
  img::CoreEntry core;
  ASSERT_TRUE(r.read(core));
  EXPECT_THROW(r.read(core), CorruptedImage);
  EXPECT_THROW(r.read(core), CorruptedImage);
}

// Random damage must give either a readable image or CorruptedImage; under
// ASan this also proves no read strays outside the file's bytes.
TEST_F(ImageCorruption, RandomDamageNeverCrashes) {
  std::mt19937 rng(20240601);
  int intact = 0, corrupted = 0;
  for (int i = 0; i < 3000; i++) {
    std::string bytes = good_;
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; e++) {
      switch (rng() % 4) {
        case 0:  // flip a byte, more often near the lengths
          bytes[rng() % (rng() % 2 ? std::min<size_t>(bytes.size(), 40) : bytes.size())] ^= char(1 + rng() % 255);
          break;
        case 1:
          bytes.resize(rng() % (bytes.size() + 1));
          break;
        case 2:
          bytes.insert(rng() % (bytes.size() + 1), 1 + rng() % 8, char(rng()));
          break;
        case 3:
          if (!bytes.empty()) bytes.erase(rng() % bytes.size(), 1 + rng() % 8);
          break;
      }
      if (bytes.empty()) break;
    }
    write_bytes(path_, bytes);
    try {
      ImageReader r(path_);
      img::CoreEntry core;
      while (r.read(core)) {
      }
      intact++;
    } catch (const CorruptedImage& e) {
      ASSERT_EQ(std::string(e.what()).rfind(prefix(), 0), 0u) << e.what();
      corrupted++;
    }
  }
  EXPECT_GT(corrupted, 1000);
  EXPECT_GT(intact, 0);  // some flips land in values and go unnoticed
}

TEST(PagesImage, WriteAndOpen) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  long page = sysconf(_SC_PAGESIZE);
  std::string data(size_t(page) * 3, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = char(i * 7);
  {
    PagesWriter w(dir, 1);
    w.write(data.data(), data.size());
    w.commit();
  }
  struct stat st;
  ASSERT_EQ(stat(tmp.file("pages-1.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  for (bool direct : {false, true}) {
    PagesFile f = open_pages(dir, 1, direct);
    EXPECT_EQ(f.size, data.size());
    if (!direct) {
      EXPECT_FALSE(f.direct);
    }
    EXPECT_EQ(f.direct, (fcntl(f.fd.get(), F_GETFL) & O_DIRECT) != 0);
    void* buf = nullptr;
    ASSERT_EQ(posix_memalign(&buf, size_t(page), data.size()), 0);
    ASSERT_EQ(pread(f.fd.get(), buf, data.size(), 0), ssize_t(data.size()));
    EXPECT_EQ(memcmp(buf, data.data(), data.size()), 0);
    free(buf);
  }
  try {
    open_pages(dir, 2, false);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open image " + tmp.file("pages-2.img") + ": No such file or directory");
  }
}

TEST(PagesImage, UnalignedIsRefused) {
  TempDir tmp;
  ImageDir dir = ImageDir::open(tmp.path());
  {
    PagesWriter w(dir, 1);
    w.write("abc", 3);
    EXPECT_THROW(w.commit(), Error);
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
  write_bytes(tmp.file("pages-1.img"), "abc");
  EXPECT_THROW(open_pages(dir, 1, false), CorruptedImage);
}

// ramfs refuses O_DIRECT (tmpfs accepts it since Linux 6.6), so the test
// mounts one in a private mount namespace of a child; without the privilege
// to do so it is skipped.
TEST(PagesImage, DirectFallsBackWhereRefused) {
  TempDir tmp;
  constexpr int kSkip = 77;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = [&] {
      if (unshare(CLONE_NEWNS) != 0) return kSkip;
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kSkip;
      if (mount("ckpt-test", tmp.path().c_str(), "ramfs", 0, "mode=700") != 0) return kSkip;
      try {
        ImageDir dir = ImageDir::open(tmp.path());
        std::string page(size_t(sysconf(_SC_PAGESIZE)), 'p');
        PagesWriter w(dir, 5);
        w.write(page.data(), page.size());
        w.commit();
        int probe = openat(dir.fd(), "pages-5.img", O_RDONLY | O_DIRECT);
        if (probe >= 0) return kSkip;  // this kernel's ramfs grants it
        if (errno != EINVAL) return 3;
        PagesFile f = open_pages(dir, 5, true);
        if (f.direct) return 4;
        if (f.size != page.size()) return 5;
        if (fcntl(f.fd.get(), F_GETFL) & O_DIRECT) return 6;
        return 0;
      } catch (...) {
        return 2;
      }
    }();
    _exit(rc);
  }
  int status = 0;
  for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(10000);
  if (waitpid(pid, &status, WNOHANG) == 0) {  // still running after 10 s
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the child did not finish";
  }
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "cannot mount a ramfs here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
