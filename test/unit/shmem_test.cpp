// The pure parts of shared memory objects (mem/shmem.h): the ranges of an
// object to save, the kernel's names of memfds and SysV segments, where a
// deleted file goes back; and SEEK_DATA on a memfd of ours.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "mem/shmem.h"

using namespace ckpt;

namespace {

const uint64_t kPage = uint64_t(sysconf(_SC_PAGESIZE));

std::vector<mem::PageRange> ranges_of(std::initializer_list<std::pair<uint64_t, uint64_t>> list) {
  std::vector<mem::PageRange> out;
  for (auto [a, b] : list) out.push_back({a, b});
  return out;
}

bool same(const std::vector<mem::PageRange>& a, const std::vector<mem::PageRange>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i].start != b[i].start || a[i].end != b[i].end) return false;
  return true;
}

std::string show(const std::vector<mem::PageRange>& v) {
  std::string s;
  for (const auto& r : v) s += format("[%llu,%llu) ", (unsigned long long)r.start, (unsigned long long)r.end);
  return s;
}

TEST(ShmemRanges, UnionOfTheAreasOfTheTree) {
  std::vector<mem::PageRange> set;
  mem::add_range(set, {40, 60});
  mem::add_range(set, {0, 10});
  mem::add_range(set, {20, 30});
  EXPECT_TRUE(same(set, ranges_of({{0, 10}, {20, 30}, {40, 60}}))) << show(set);
  mem::add_range(set, {10, 20});  // touching: one range
  EXPECT_TRUE(same(set, ranges_of({{0, 30}, {40, 60}}))) << show(set);
  mem::add_range(set, {25, 45});  // overlapping two
  EXPECT_TRUE(same(set, ranges_of({{0, 60}}))) << show(set);
  mem::add_range(set, {5, 6});    // inside
  mem::add_range(set, {70, 70});  // empty
  EXPECT_TRUE(same(set, ranges_of({{0, 60}}))) << show(set);
  mem::add_range(set, {80, 90});
  mem::add_range(set, {65, 100});  // swallows one after a gap
  EXPECT_TRUE(same(set, ranges_of({{0, 60}, {65, 100}}))) << show(set);
}

TEST(ShmemRanges, DataInsideWhatIsMapped) {
  auto data = ranges_of({{0, 4}, {6, 12}, {20, 30}});
  auto mapped = ranges_of({{2, 8}, {10, 25}});
  EXPECT_TRUE(same(mem::intersect(data, mapped), ranges_of({{2, 4}, {6, 8}, {10, 12}, {20, 25}})))
      << show(mem::intersect(data, mapped));
  EXPECT_TRUE(mem::intersect(data, {}).empty());
  EXPECT_TRUE(same(mem::intersect(ranges_of({{0, 100}}), mapped), mapped));
  auto aligned = mem::page_align({kPage + 1, 2 * kPage + 1}, kPage);
  EXPECT_EQ(aligned.start, kPage);
  EXPECT_EQ(aligned.end, 3 * kPage);
}

TEST(ShmemNames, MemfdAndSysv) {
  EXPECT_EQ(mem::memfd_name("/memfd:jit"), "jit");
  EXPECT_EQ(mem::memfd_name("/memfd:with space"), "with space");
  EXPECT_EQ(mem::memfd_name("/memfd:"), "");
  EXPECT_FALSE(mem::memfd_name("/tmp/memfd:x"));
  EXPECT_EQ(mem::sysv_key("/SYSV0000abcd"), 0xabcd);
  EXPECT_EQ(mem::sysv_key("/SYSV00000000"), 0);
  EXPECT_EQ(mem::sysv_key("/SYSVffffffff"), -1);
  EXPECT_FALSE(mem::sysv_key("/SYSV1234"));
  EXPECT_FALSE(mem::sysv_key("/SYSV0000ABCD"));  // the kernel prints %08x
  EXPECT_FALSE(mem::sysv_key("/tmp/SYSV0000abcd"));
}

TEST(ShmemNames, WhereADeletedFileGoesBack) {
  EXPECT_EQ(mem::ghost_alternative("/tmp/x", 1), "/tmp/x.ckpt-ghost-1");
  EXPECT_EQ(mem::parent_dir("/tmp/dir/x"), "/tmp/dir");
  EXPECT_EQ(mem::parent_dir("/x"), "/");
  EXPECT_EQ(mem::parent_dir("x"), ".");
}

TEST(ShmemData, HolesAreLeftOut) {
  UniqueFd fd(memfd_create("shmem-test", MFD_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(ftruncate(fd.get(), off_t(16 * kPage)), 0);
  for (uint64_t p : {1, 2, 9}) ASSERT_EQ(pwrite(fd.get(), "x", 1, off_t(p * kPage + 5)), 1);
  auto all = mem::file_data_ranges(fd.get(), 0, 16 * kPage, kPage, "the test memfd");
  EXPECT_TRUE(same(all, ranges_of({{kPage, 3 * kPage}, {9 * kPage, 10 * kPage}}))) << show(all);
  auto part = mem::file_data_ranges(fd.get(), 2 * kPage, 9 * kPage, kPage, "the test memfd");
  EXPECT_TRUE(same(part, ranges_of({{2 * kPage, 3 * kPage}}))) << show(part);
  EXPECT_TRUE(mem::file_data_ranges(fd.get(), 10 * kPage, 16 * kPage, kPage, "the test memfd").empty());
}

}  // namespace
