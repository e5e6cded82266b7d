// Restore of pages a child shared with its parent since fork, stored once in
// the parent's pages image: the runs naming another image are checked
// against the tree at load, the other image becomes a helper fd of the
// child, and the blob reads those runs from it (or maps it for
// UFFDIO_COPY, as its own).
//
// The AddressSanitizer variant of the unit tests does not build src/restore.
#if !defined(__SANITIZE_ADDRESS__)
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <functional>
#include <string>

#include "error_of.h"
#include "ckpt/error.h"
#include "ckpt/restorer_args.h"
#include "image/image.h"
#include "restore/args_fill.h"
#include "restore/helper_files.h"
#include "restore/process_image.h"
#include "temp_dir.h"

using namespace ckpt;
using restore::ProcessImage;

namespace {

constexpr uint64_t kPage = 4096;

using test::error_of;

img::VmaEntry anon_area(uint64_t start, uint64_t end) {
  img::VmaEntry v;
  v.set_start(start);
  v.set_end(end);
  v.set_kind(img::VMA_ANON_PRIVATE);
  v.set_prot(PROT_READ | PROT_WRITE);
  v.set_flags(MAP_PRIVATE | MAP_ANONYMOUS);
  return v;
}

ProcessImage process(uint32_t pid, std::vector<ProcessImage::Run> runs) {
  ProcessImage p;
  p.pstree.set_pid(pid);
  p.pages_id = pid;
  p.vmas = {anon_area(0x10000, 0x20000), anon_area(0x30000, 0x40000)};
  p.runs = std::move(runs);
  p.has_pages = !p.runs.empty();
  return p;
}

// Pid 10 has 4 pages of its own; its child 11 one of its own and two in
// 10's image at 0x1000.
restore::TreeImage tree(uint64_t shared_offset, uint32_t shared_id = 10) {
  restore::TreeImage t;
  t.procs.push_back(process(10, {{0x10000, 4 * kPage, 0, 10}}));
  t.procs.push_back(process(11, {{0x10000, kPage, 0, 11}, {0x11000, 2 * kPage, shared_offset, shared_id},
                                 {0x30000, kPage, kPage, 11}}));
  return t;
}

class RestorePagesTest : public ::testing::Test {
 protected:
  test::TempDir tmp_{"restore-pages-test"};
  image::ImageDir dir_ = image::ImageDir::create(tmp_.file("images"));

  void write_pages(uint64_t id, uint64_t pages) {
    image::PagesWriter w(dir_, id);
    std::string page(kPage, 'x');
    for (uint64_t i = 0; i < pages; i++) w.write(page.data(), page.size());
    w.commit();
  }
};

TEST_F(RestorePagesTest, RunsInAnotherImageMustLieInsideWhatItsProcessPutThere) {
  EXPECT_EQ(error_of([&] { restore::check_shared_runs(dir_, tree(kPage)); }), "no error");
  EXPECT_EQ(error_of([&] { restore::check_shared_runs(dir_, tree(2 * kPage)); }), "no error");
  EXPECT_EQ(error_of([&] { restore::check_shared_runs(dir_, tree(3 * kPage)); }),
            "corrupted image " + dir_.path() + "/pagemap-11.img: the pages at 0x11000 are in pages-10.img at "
            "0x3000-0x5000, beyond the 0x4000 bytes its pagemap put there");
  EXPECT_EQ(error_of([&] { restore::check_shared_runs(dir_, tree(kPage, 12)); }),
            "corrupted image " + dir_.path() + "/pagemap-11.img: the pages at 0x11000 are in pages-12.img, which "
            "is no process's of the tree");
  // An offset near 2^64 does not wrap around.
  EXPECT_NE(error_of([&] { restore::check_shared_runs(dir_, tree(~uint64_t(0) - kPage + 1)); }), "no error");
}

TEST_F(RestorePagesTest, TheOtherImageIsAHelperFdCheckedForItsSize) {
  write_pages(10, 4);
  write_pages(11, 2);
  restore::Tuning tuning;
  restore::HelperFiles h = restore::open_helper_files(dir_, tree(kPage).procs[1], tuning);
  ASSERT_EQ(h.fds.size(), 2u);
  ASSERT_GE(h.pages_slot, 0);
  EXPECT_EQ(h.pages_size, 2 * kPage);
  ASSERT_EQ(h.other_pages.size(), 1u);
  ASSERT_TRUE(h.other_pages.count(10));
  EXPECT_NE(h.other_pages[10].slot, h.pages_slot);
  EXPECT_EQ(h.other_pages[10].size, 4 * kPage);

  write_pages(10, 2);  // shorter than the child's run into it needs
  EXPECT_EQ(error_of([&] { restore::open_helper_files(dir_, tree(kPage).procs[1], tuning); }),
            "corrupted image " + dir_.path() + "/pages-10.img: 8192 bytes, but the pagemap of pid 11 needs 12288");
}

TEST_F(RestorePagesTest, AProcessWithoutPagesOfItsOwnOpensOnlyTheOther) {
  write_pages(10, 4);
  restore::Tuning tuning;
  ProcessImage child = process(11, {{0x11000, 2 * kPage, kPage, 10}});
  restore::HelperFiles h = restore::open_helper_files(dir_, child, tuning);
  EXPECT_EQ(h.pages_slot, -1);
  EXPECT_EQ(h.fds.size(), 1u);
  EXPECT_EQ(h.other_pages.at(10).slot, 0);
}

TEST(RestorePages, TheBlobReadsOtherImagesFromTheirFd) {
  ProcessImage child = tree(kPage).procs[1];
  restore::HelperFiles h;
  h.pages_slot = 0;
  h.other_pages[10] = {1, 4 * kPage};
  std::vector<ckpt_restorer_run> runs = restore::blob_runs(child, h, 100, /*uffd=*/true);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].flags, uint32_t(CKPT_RUN_UFFD));
  EXPECT_EQ(runs[0].fd, -1);
  EXPECT_EQ(runs[1].vaddr, 0x11000u);
  EXPECT_EQ(runs[1].offset, kPage);
  EXPECT_EQ(runs[1].flags, uint32_t(CKPT_RUN_OTHER_FILE | CKPT_RUN_UFFD));
  EXPECT_EQ(runs[1].fd, 101);
  EXPECT_EQ(runs[2].flags, uint32_t(CKPT_RUN_UFFD));
  EXPECT_EQ(runs[2].offset, kPage);
  // Without userfaultfd every run is read, the other image's from its fd.
  runs = restore::blob_runs(child, h, 100, /*uffd=*/false);
  EXPECT_EQ(runs[0].flags, 0u);
  EXPECT_EQ(runs[1].flags, uint32_t(CKPT_RUN_OTHER_FILE));
  EXPECT_EQ(runs[1].fd, 101);

  // The blob maps the other image for UFFDIO_COPY: its fd and size.
  std::vector<ckpt_restorer_page_file> files = restore::page_files(h, 100);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].fd, 101);
  EXPECT_EQ(files[0].size, 4 * kPage);

  h.other_pages.clear();
  EXPECT_EQ(error_of([&] { restore::blob_runs(child, h, 100, true); }),
            "cannot restore pid 11: pages-10.img, which its pages at 0x11000 are in, is not open");
}

}  // namespace
#endif
