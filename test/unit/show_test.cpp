// `ckpt show`: the JSON of a file and of a directory, and its errors.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "commands.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "pstree.pb.h"
#include "show/show.h"

#include "temp_dir.h"

using namespace ckpt;
using namespace ckpt::image;

namespace {

// Each test's images live in a directory of their own.
struct TempDir : ckpt::test::TempDir {
  TempDir() : ckpt::test::TempDir("show-test") {}
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

img::PstreeEntry pstree(uint32_t pid, uint32_t ppid) {
  img::PstreeEntry e;
  e.set_pid(pid);
  e.set_ppid(ppid);
  e.set_pgid(pid);
  e.set_sid(1);
  e.add_threads(pid);
  return e;
}

// A small images directory: inventory, a two-process tree, two pages, and
// files that are not images.
void make_images(const TempDir& tmp) {
  ImageDir dir = ImageDir::open(tmp.path());
  img::InventoryEntry inv;
  inv.set_img_version(kFormatVersion);
  inv.set_tool_version("0.1.0");
  inv.set_kernel("6.18.0");
  inv.set_arch("x86_64");
  inv.set_root_pid(100);
  inv.set_page_size(4096);
  ImageWriter i(dir, Kind::Inventory);
  i.write(inv);
  i.commit();
  ImageWriter p(dir, Kind::Pstree);
  p.write(pstree(100, 0));
  p.write(pstree(101, 100));
  p.commit();
  ImageWriter(dir, Kind::Fdinfo, 101).commit();
  PagesWriter pages(dir, 1);
  std::string data(8192, 'x');
  pages.write(data.data(), data.size());
  pages.commit();
  write_text(tmp.file("dump.log"), "log lines\n");
  write_text(tmp.file("core-7.img.tmp"), "left over");
}

google::protobuf::Struct parse_json(const std::string& json) {
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return s;
}

}  // namespace

TEST(Show, OneFile) {
  TempDir tmp;
  make_images(tmp);
  EXPECT_EQ(show::to_json(tmp.file("pstree.img")),
            "{\"magic\": \"pstree\", \"version\": 2, \"entries\": [\n"
            "  {\"pid\":100,\"ppid\":0,\"pgid\":100,\"sid\":1,\"threads\":[100]},\n"
            "  {\"pid\":101,\"ppid\":100,\"pgid\":101,\"sid\":1,\"threads\":[101]}\n"
            "]}");
  EXPECT_EQ(show::to_json(tmp.file("fdinfo-101.img")), "{\"magic\": \"fdinfo\", \"version\": 2, \"entries\": []}");
  EXPECT_EQ(show::to_json(tmp.file("pages-1.img")), "{\"magic\": \"pages\", \"size\": 8192, \"pages\": 2}");
}

TEST(Show, Directory) {
  TempDir tmp;
  make_images(tmp);
  std::string json = show::to_json(tmp.path());
  google::protobuf::Struct all = parse_json(json);
  std::vector<std::string> names;
  for (const auto& [name, value] : all.fields()) names.push_back(name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"fdinfo-101.img", "inventory.img", "pages-1.img", "pstree.img"}));
  // Printed in sorted order too.
  EXPECT_LT(json.find("\"fdinfo-101.img\""), json.find("\"inventory.img\""));
  EXPECT_LT(json.find("\"pages-1.img\""), json.find("\"pstree.img\""));

  const auto& inv = all.fields().at("inventory.img").struct_value().fields();
  EXPECT_EQ(inv.at("magic").string_value(), "inventory");
  EXPECT_EQ(inv.at("version").number_value(), 2);
  ASSERT_EQ(inv.at("entries").list_value().values_size(), 1);
  const auto& entry = inv.at("entries").list_value().values(0).struct_value().fields();
  EXPECT_EQ(entry.at("arch").string_value(), "x86_64");
  EXPECT_EQ(entry.at("root_pid").number_value(), 100);  // proto field names, not lowerCamel
  EXPECT_EQ(all.fields().at("pstree.img").struct_value().fields().at("entries").list_value().values_size(), 2);
  const auto& pages = all.fields().at("pages-1.img").struct_value().fields();
  EXPECT_EQ(pages.at("size").number_value(), 8192);
  EXPECT_EQ(pages.at("pages").number_value(), 2);
}

TEST(Show, EmptyDirectory) {
  TempDir tmp;
  EXPECT_EQ(show::to_json(tmp.path()), "{}");
}

TEST(Show, CorruptedImageInADirectory) {
  TempDir tmp;
  make_images(tmp);
  std::string bytes;
  {
    std::ifstream in(tmp.file("pstree.img"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_text(tmp.file("pstree.img"), bytes.substr(0, bytes.size() - 1));
  try {
    show::to_json(tmp.path());
    FAIL() << "no exception";
  } catch (const CorruptedImage& e) {
    EXPECT_EQ(std::string(e.what()), "corrupted image " + tmp.file("pstree.img") +
                                         ": record 2 is truncated: length 10 but 9 bytes left");
  }
  write_text(tmp.file("pages-1.img"), "short");
  EXPECT_THROW(show::to_json(tmp.file("pages-1.img")), CorruptedImage);
}

TEST(Show, ExplicitlyNamedUnknownFileIsAnError) {
  TempDir tmp;
  make_images(tmp);
  try {
    show::to_json(tmp.file("dump.log"));
    FAIL() << "no exception";
  } catch (const CorruptedImage&) {
    FAIL() << "not an image at all, so not a corrupted one";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot show " + tmp.file("dump.log") + ": not the name of an image file (such as core-1.img)");
  }
  EXPECT_THROW(show::to_json(tmp.file("missing.img")), Error);
}

TEST(Show, RunShowPrintsEachPath) {
  TempDir tmp;
  make_images(tmp);
  cli::Options opts;
  opts.command = cli::Command::Show;
  opts.paths = {tmp.file("pages-1.img"), tmp.file("fdinfo-101.img")};
  testing::internal::CaptureStdout();
  int rc = run_show(opts);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out,
            "{\"magic\": \"pages\", \"size\": 8192, \"pages\": 2}\n"
            "{\"magic\": \"fdinfo\", \"version\": 2, \"entries\": []}\n");
}
