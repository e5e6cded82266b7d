// The manifest (image/manifest.h) and `ckpt verify` (verify/verify.h): SHA-256
// of known data, the digests writers take as they write (records, pages
// written and pages spliced in behind their back), the manifest round trip,
// and each kind of damage named by file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "image/image.h"
#include "image/manifest.h"
#include "image/sha256.h"
#include "pstree.pb.h"
#include "temp_dir.h"
#include "verify/verify.h"

using namespace ckpt;
using namespace ckpt::image;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

img::PstreeEntry pstree(uint32_t pid) {
  img::PstreeEntry e;
  e.set_pid(pid);
  e.set_ppid(0);
  e.set_pgid(pid);
  e.set_sid(pid);
  e.add_threads(pid);
  return e;
}

// A small set, as dump makes it: records, pages (part written, part written
// through fd() as a splice would), then the manifest last.
std::vector<FileDigest> make_set(const ImageDir& dir) {
  std::vector<FileDigest> digests;
  long page = sysconf(_SC_PAGESIZE);
  {
    ImageWriter w(dir, Kind::Pstree);
    for (uint32_t pid = 100; pid < 400; pid++) w.write(pstree(pid));
    digests.push_back(w.digest());
    w.commit();
  }
  {
    PagesWriter p(dir, 7);
    std::string a(size_t(page) * 3, 'a'), b(size_t(page), 'b');
    for (size_t i = 0; i < a.size(); i += 97) a[i] = char(i);
    EXPECT_EQ(::write(p.fd(), a.data(), a.size()), ssize_t(a.size()));  // "spliced"
    p.write(b.data(), b.size());
    EXPECT_EQ(::write(p.fd(), a.data(), a.size()), ssize_t(a.size()));
    digests.push_back(p.digest());
    p.commit();
  }
  write_manifest(dir, digests);
  return digests;
}

bool has_line(const verify::Result& r, const std::string& line) {
  for (const std::string& p : r.problems)
    if (p == line) return true;
  return false;
}

std::string problems(const verify::Result& r) {
  std::string out;
  for (const std::string& p : r.problems) out += p + "\n";
  return out;
}

}  // namespace

TEST(Sha256, KnownDigests) {
  // FIPS 180-2's examples.
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string million(1000000, 'a');
  Sha256 h;
  for (size_t at = 0; at < million.size(); at += 4093) h.update(million.data() + at, std::min<size_t>(4093, million.size() - at));
  EXPECT_EQ(h.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_THROW(h.update("x", 1), Error);  // finished
}

TEST(Manifest, WritersDigestWhatIsInTheirFiles) {
  test::TempDir tmp("manifest");
  ImageDir dir = ImageDir::create(tmp.path());
  std::vector<FileDigest> digests = make_set(dir);
  for (const FileDigest& d : digests) {
    std::string bytes = slurp(tmp.file(d.name));
    EXPECT_EQ(d.size, bytes.size()) << d.name;
    EXPECT_EQ(d.sha256, sha256_hex(bytes.data(), bytes.size())) << d.name;
    EXPECT_EQ(digest_file(dir, d.name, d.size).sha256, d.sha256) << d.name;
  }
}

TEST(Manifest, RoundTrip) {
  test::TempDir tmp("manifest");
  ImageDir dir = ImageDir::create(tmp.path());
  std::vector<FileDigest> digests = make_set(dir);
  std::vector<FileDigest> got = read_manifest(ImageDir::open(tmp.path()));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].name, "pages-7.img");  // sorted by name
  EXPECT_EQ(got[1].name, "pstree.img");
  for (const FileDigest& g : got) {
    const FileDigest& want = g.name == digests[0].name ? digests[0] : digests[1];
    EXPECT_EQ(g.size, want.size);
    EXPECT_EQ(g.sha256, want.sha256);
  }
  verify::Result r = verify::check(ImageDir::open(tmp.path()));
  EXPECT_TRUE(r.problems.empty()) << problems(r);
  EXPECT_EQ(r.files, 2u);
  EXPECT_NO_THROW(verify::require_verified(ImageDir::open(tmp.path())));
}

TEST(Manifest, NothingIsWrittenAfterTheDigest) {
  test::TempDir tmp("manifest");
  ImageDir dir = ImageDir::create(tmp.path());
  ImageWriter w(dir, Kind::Pstree);
  w.digest();
  EXPECT_THROW(w.write(pstree(1)), Error);
  PagesWriter p(dir, 1);
  p.digest();
  EXPECT_THROW(p.write("x", 1), Error);
}

TEST(Verify, EachCorruptionIsNamed) {
  test::TempDir tmp("verify");
  {
    ImageDir dir = ImageDir::create(tmp.path());
    make_set(dir);
  }
  long page = sysconf(_SC_PAGESIZE);
  uint64_t pages_size = uint64_t(page) * 7;
  uint64_t pstree_size = uint64_t(slurp(tmp.file("pstree.img")).size());
  auto check = [&] { return verify::check(ImageDir::open(tmp.path())); };

  // A byte flipped in the pages.
  {
    int fd = open(tmp.file("pages-7.img").c_str(), O_RDWR);
    char c;
    ASSERT_EQ(pread(fd, &c, 1, 5000), 1);
    c ^= 0x10;
    ASSERT_EQ(pwrite(fd, &c, 1, 5000), 1);
    close(fd);
  }
  verify::Result r = check();
  EXPECT_TRUE(has_line(r, "pages-7.img: SHA-256 differs (byte flipped?)")) << problems(r);
  EXPECT_EQ(r.problems.size(), 1u) << problems(r);
  EXPECT_THROW(verify::require_verified(ImageDir::open(tmp.path())), Error);

  // Truncated; longer.
  ASSERT_EQ(truncate(tmp.file("pstree.img").c_str(), 10), 0);
  ASSERT_EQ(truncate(tmp.file("pages-7.img").c_str(), off_t(pages_size + 1)), 0);
  r = check();
  EXPECT_TRUE(has_line(r, format("pstree.img: truncated (10 of %llu bytes)", (unsigned long long)pstree_size)))
      << problems(r);
  EXPECT_TRUE(has_line(r, format("pages-7.img: %llu bytes, longer than the %llu in the manifest (appended to, or "
                                 "replaced?)", (unsigned long long)pages_size + 1, (unsigned long long)pages_size)))
      << problems(r);

  // Missing; foreign; a FIFO in place of an image.
  ASSERT_EQ(unlink(tmp.file("pages-7.img").c_str()), 0);
  { std::ofstream(tmp.file("fdinfo-99.img")) << "x"; }
  { std::ofstream(tmp.file("notes.txt")) << "not an image name: not looked at"; }
  ASSERT_EQ(unlink(tmp.file("pstree.img").c_str()), 0);
  ASSERT_EQ(mkfifo(tmp.file("pstree.img").c_str(), 0600), 0);
  r = check();
  EXPECT_TRUE(has_line(r, "pages-7.img: missing")) << problems(r);
  EXPECT_TRUE(has_line(r, "fdinfo-99.img: not in the manifest")) << problems(r);
  EXPECT_TRUE(has_line(r, "pstree.img: it is a FIFO, not a regular file")) << problems(r);
  EXPECT_EQ(r.problems.size(), 3u) << problems(r);
  try {
    verify::require_verified(ImageDir::open(tmp.path()));
    ADD_FAILURE() << "verified";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cannot restore from " + tmp.path() + ": its images do not match manifest.img (3 problems)"),
              std::string::npos) << msg;
    for (const std::string& p : r.problems) EXPECT_NE(msg.find("\n  " + p), std::string::npos) << msg;
  }

  // No manifest: incomplete.
  ASSERT_EQ(unlink(tmp.file("manifest.img").c_str()), 0);
  r = check();
  ASSERT_EQ(r.problems.size(), 1u) << problems(r);
  EXPECT_EQ(r.problems[0].rfind("manifest.img: missing: the images are incomplete", 0), 0u) << problems(r);
  try {
    verify::require_verified(ImageDir::open(tmp.path()));
    ADD_FAILURE() << "verified";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("images in " + tmp.path() + " are incomplete: no manifest.img"),
              std::string::npos) << e.what();
  }
}

TEST(Verify, AManifestThatListsWhatIsNoImageIsRefused) {
  test::TempDir tmp("verify");
  ImageDir dir = ImageDir::create(tmp.path());
  for (const std::string& bad : {"../etc/passwd", "notes.txt", "manifest.img"}) {
    write_manifest(dir, {FileDigest{bad, 1, std::string(64, '0')}});
    verify::Result r = verify::check(ImageDir::open(tmp.path()));
    ASSERT_EQ(r.problems.size(), 1u) << problems(r);
    EXPECT_NE(r.problems[0].find("which is not an image file"), std::string::npos) << problems(r);
  }
  write_manifest(dir, {FileDigest{"core-1.img", 1, "xyz"}});
  verify::Result r = verify::check(ImageDir::open(tmp.path()));
  ASSERT_EQ(r.problems.size(), 1u) << problems(r);
  EXPECT_NE(r.problems[0].find("is not 64 hex digits"), std::string::npos) << problems(r);
}
