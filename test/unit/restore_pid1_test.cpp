// A PID namespace's init in an image set (a dump made inside that
// namespace, or an edited set) is refused by name before anything is made:
// it could only get pid 1 back in a new namespace, which restore does not
// create yet.
#include <gtest/gtest.h>

#include "image/image.h"
#include "inventory.pb.h"
#include "pstree.pb.h"
#include "restore/process_image.h"
#include "temp_dir.h"

using namespace ckpt;

namespace {

void write_set(const image::ImageDir& dir, uint32_t root, uint32_t child) {
  img::InventoryEntry inv;
  inv.set_img_version(image::kFormatVersion);
  inv.set_tool_version("test");
  inv.set_kernel("test");
  inv.set_arch("x86_64");
  inv.set_root_pid(root);
  inv.set_page_size(uint32_t(sysconf(_SC_PAGESIZE)));
  image::ImageWriter pstree(dir, image::Kind::Pstree);
  for (uint32_t pid : {root, child}) {
    img::PstreeEntry e;
    e.set_pid(pid);
    e.set_ppid(pid == root ? 0 : root);
    e.set_pgid(root);
    e.set_sid(root);
    pstree.write(e);
  }
  pstree.commit();
  image::ImageWriter w(dir, image::Kind::Inventory);
  w.write(inv);
  w.commit();
}

std::string load_error(const image::ImageDir& dir) {
  try {
    restore::load_tree_image(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RestorePid1, TheInitOfANamespaceIsRefusedByName) {
  test::TempDir tmp("pid1");
  image::ImageDir dir = image::ImageDir::open(tmp.path());
  write_set(dir, 1, 7);
  std::string e = load_error(dir);
  EXPECT_NE(e.find("cannot restore pid 1 from " + tmp.path()), std::string::npos) << e;
  EXPECT_NE(e.find("init of a PID namespace"), std::string::npos) << e;
}

TEST(RestorePid1, OtherPidsReachTheNextImages) {
  test::TempDir tmp("pid1");
  image::ImageDir dir = image::ImageDir::open(tmp.path());
  write_set(dir, 300, 301);
  std::string e = load_error(dir);
  // Refused for the missing core, not for pid 1.
  EXPECT_EQ(e.find("pid 1 "), std::string::npos) << e;
  EXPECT_NE(e, "");
}
