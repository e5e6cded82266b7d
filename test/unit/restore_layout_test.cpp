// Where the restorer area goes, how it is laid out and how page runs are cut.
#include <gtest/gtest.h>

#include "restore/layout.h"

using namespace ckpt::restore;

namespace {
constexpr uint64_t kMiB = 1 << 20;
}

TEST(RestoreFindGap, TakesTheHighestFreePlace) {
  std::vector<Range> busy = {{0x10000000, 0x20000000}, {0x7f0000000000, 0x7f0000100000}};
  auto at = find_gap(busy, 64 * 1024, kMiB, 0x7ffffffff000, 0);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, 0x7ffffffff000 - 64 * 1024);
}

TEST(RestoreFindGap, KeepsTheMarginFromNeighboursButNotFromTheBounds) {
  // A stack-like area right below the top: the gap above it is too small
  // once the margin is kept, so the area goes below, margin away.
  std::vector<Range> busy = {{0x7ffffff00000, 0x7fffffffe000}};
  auto at = find_gap(busy, 0x10000, kMiB, 0x7ffffffff000, 16 * kMiB);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at + 0x10000 + 16 * kMiB, 0x7ffffff00000);
}

TEST(RestoreFindGap, NeverOverlapsAnything) {
  std::vector<Range> busy = {{0x500000, 0x900000}, {0x400000, 0x600000}, {0x100000, 0x180000}, {0x880000, 0xa00000}};
  for (uint64_t size : {0x1000ull, 0x10000ull, 0x200000ull}) {
    auto at = find_gap(busy, size, 0x100000, 0xb00000, 0);
    ASSERT_TRUE(at) << size;
    EXPECT_EQ(*at % 4096, 0u);
    for (const Range& r : busy) EXPECT_TRUE(*at + size <= r.start || *at >= r.end) << std::hex << *at;
    EXPECT_GE(*at, 0x100000u);
    EXPECT_LE(*at + size, 0xb00000u);
  }
}

TEST(RestoreFindGap, FindsTheOnlyHoleLowDown) {
  std::vector<Range> busy = {{0x100000, 0x200000}, {0x210000, 0x7ffffffff000}};
  auto at = find_gap(busy, 0x10000, 0x100000, 0x7ffffffff000, 0);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, 0x200000u);
}

TEST(RestoreFindGap, SaysWhenThereIsNoRoom) {
  std::vector<Range> busy = {{0x100000, 0x200000}, {0x208000, 0x300000}};
  EXPECT_FALSE(find_gap(busy, 0x10000, 0x100000, 0x300000, 0));
  EXPECT_FALSE(find_gap({}, 0, 0x100000, 0x300000, 0));
  EXPECT_FALSE(find_gap({}, 0x1000, 0x300000, 0x100000, 0));
}

TEST(RestoreFindGap, IgnoresEmptyRanges) {
  std::vector<Range> busy = {{0x200000, 0x200000}};
  auto at = find_gap(busy, 0x100000, 0x100000, 0x300000, 0);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, 0x200000u);
}

TEST(RestorePlanArea, PartsArePageAlignedAndInOrder) {
  AreaLayout l = with_args(plan_area(31265, 128 * 1024 + 3 * 16384, 0x8000), 9540);
  EXPECT_EQ(l.blob_off, 0u);
  EXPECT_EQ(l.blob_size, 32768u);
  EXPECT_EQ(l.stack_off, 32768u);
  EXPECT_EQ(l.stack_size, 128u * 1024 + 3 * 16384);
  EXPECT_EQ(l.park_off, l.stack_off + l.stack_size);
  EXPECT_EQ(l.args_off, l.park_off + 0x8000);
  EXPECT_EQ(l.args_size, 12288u);
  EXPECT_EQ(l.total, l.args_off + 12288u);
}

TEST(RestoreSplitRuns, CutsLongRunsAndFollowsTheOffsets) {
  std::vector<PageRun> runs = {{0x1000, 0x3000, 0}, {0x10000, 10 * kMiB, 0x3000}};
  std::vector<PageRun> out = split_runs(runs, 4 * kMiB);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].vaddr, 0x1000u);
  EXPECT_EQ(out[0].len, 0x3000u);
  EXPECT_EQ(out[1].vaddr, 0x10000u);
  EXPECT_EQ(out[1].len, 4 * kMiB);
  EXPECT_EQ(out[1].offset, 0x3000u);
  EXPECT_EQ(out[2].vaddr, 0x10000 + 4 * kMiB);
  EXPECT_EQ(out[2].offset, 0x3000 + 4 * kMiB);
  EXPECT_EQ(out[3].len, 2 * kMiB);
  EXPECT_EQ(out[3].offset, 0x3000 + 8 * kMiB);
}
