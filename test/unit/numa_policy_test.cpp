// NUMA memory policies: what get_mempolicy's answers become in the image,
// their spelling in messages, and the restorer's sections made of them.
#include <gtest/gtest.h>

#include <cerrno>

#include "ckpt/error.h"
#include "mem/numa_policy.h"
#include "restore/process_image.h"

using namespace ckpt;

namespace {

constexpr uint32_t kBind = 2, kInterleave = 3, kLocal = 4;
constexpr uint32_t kStatic = 1u << 15, kRelative = 1u << 14;

std::vector<uint64_t> words(std::initializer_list<uint64_t> first) {
  std::vector<uint64_t> w(first);
  w.resize(CKPT_MEMPOLICY_WORDS, 0);
  return w;
}

TEST(NumaPolicy, DefaultAndNoNumaAreNothingToRestore) {
  img::MempolicyEntry e;
  EXPECT_FALSE(mem::policy_of("x", 0, 0, 0, words({}), e));
  EXPECT_FALSE(mem::policy_of("x", -ENOSYS, 0, 0, words({}), e));
}

TEST(NumaPolicy, ErrorNamesWhat) {
  img::MempolicyEntry e;
  try {
    mem::policy_of("cannot dump thread 7 of pid 5", -EFAULT, 0, 0, words({}), e);
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("cannot dump thread 7 of pid 5: get_mempolicy failed"), std::string::npos)
        << err.what();
  }
}

TEST(NumaPolicy, KeepsModeFlagsAndNodesWithoutTrailingZeros) {
  img::MempolicyEntry e;
  ASSERT_TRUE(mem::policy_of("x", 0, kBind, kStatic, words({0xb}), e));
  EXPECT_EQ(e.mode(), kBind);
  EXPECT_EQ(e.flags(), kStatic);
  ASSERT_EQ(e.nodes_size(), 1);
  EXPECT_EQ(e.nodes(0), 0xbu);
  EXPECT_EQ(mem::policy_text(e), "bind=static:0-1,3");

  ASSERT_TRUE(mem::policy_of("x", 0, kLocal, 0, words({}), e));
  EXPECT_EQ(e.nodes_size(), 0);
  EXPECT_EQ(mem::policy_text(e), "local");

  ASSERT_TRUE(mem::policy_of("x", 0, kInterleave, kRelative, words({0, 1}), e));
  EXPECT_EQ(e.nodes_size(), 2);
  EXPECT_EQ(mem::policy_text(e), "interleave=relative:64");
}

TEST(NumaPolicy, SectionsCarryAreasAndLiveThreadsWithAPolicy) {
  restore::ProcessImage p;
  img::VmaEntry bound, plain;
  bound.set_start(0x1000);
  bound.set_end(0x5000);
  ASSERT_TRUE(mem::policy_of("x", 0, kBind, 0, words({1}), *bound.mutable_mempolicy()));
  plain.set_start(0x6000);
  plain.set_end(0x7000);
  p.vmas = {bound, plain};
  img::ThreadCoreEntry with, without, exited;
  with.set_tid(11);
  ASSERT_TRUE(mem::policy_of("x", 0, kInterleave, kStatic, words({1}), *with.mutable_mempolicy()));
  without.set_tid(12);
  exited.set_tid(13);
  exited.set_exited(true);
  *exited.mutable_mempolicy() = with.mempolicy();
  p.threads = {with, without, exited};

  std::vector<ckpt_restorer_vma_mempolicy> areas = mem::vma_policy_section(p);
  ASSERT_EQ(areas.size(), 1u);
  EXPECT_EQ(areas[0].start, 0x1000u);
  EXPECT_EQ(areas[0].end, 0x5000u);
  EXPECT_EQ(areas[0].policy.mode, kBind);
  EXPECT_EQ(areas[0].policy.nodes[0], 1u);

  std::vector<ckpt_restorer_thread_mempolicy> threads = mem::thread_policy_section(p);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads[0].tid, 11);
  EXPECT_EQ(threads[0].policy.mode, kInterleave);
  EXPECT_EQ(threads[0].policy.flags, kStatic);
}

}  // namespace
