// Matching the dumped vDSO against this kernel's, and reading build ids.
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

#include "restore/vdso.h"

using namespace ckpt::restore;

namespace {

std::vector<VdsoPart> ours() {
  return {{ckpt::img::VMA_VVAR, 0x7f0000000000, 0x7f0000004000},
          {ckpt::img::VMA_VVAR_VCLOCK, 0x7f0000004000, 0x7f0000006000},
          {ckpt::img::VMA_VDSO, 0x7f0000006000, 0x7f0000008000}};
}

std::vector<ckpt::img::VmaEntry> dumped(uint64_t base, uint64_t vdso_size = 0x2000) {
  std::vector<ckpt::img::VmaEntry> v(4);
  v[0].set_start(0x400000); v[0].set_end(0x401000); v[0].set_kind(ckpt::img::VMA_FILE_PRIVATE);
  v[1].set_start(base); v[1].set_end(base + 0x4000); v[1].set_kind(ckpt::img::VMA_VVAR);
  v[2].set_start(base + 0x4000); v[2].set_end(base + 0x6000); v[2].set_kind(ckpt::img::VMA_VVAR_VCLOCK);
  v[3].set_start(base + 0x6000); v[3].set_end(base + 0x6000 + vdso_size); v[3].set_kind(ckpt::img::VMA_VDSO);
  return v;
}

std::string error_of(const std::vector<ckpt::img::VmaEntry>& d, const std::string& id = "",
                     const std::vector<uint8_t>& our_id = {}) {
  try {
    plan_vdso(ours(), our_id, d, id, 0x100000);
  } catch (const ckpt::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RestoreVdso, EachPartIsParkedThenMovedToItsDumpedPlace) {
  auto plan = plan_vdso(ours(), {}, dumped(0x7ff000000000), "", 0x100000);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].cur, 0x7f0000000000u);
  EXPECT_EQ(plan[0].park, 0x100000u);
  EXPECT_EQ(plan[1].park, 0x104000u);
  EXPECT_EQ(plan[2].park, 0x106000u);
  EXPECT_EQ(plan[0].target, 0x7ff000000000u);
  EXPECT_EQ(plan[1].target, 0x7ff000004000u);
  EXPECT_EQ(plan[2].target, 0x7ff000006000u);
  EXPECT_EQ(plan[2].size, 0x2000u);
  EXPECT_EQ(vdso_park_size(ours()), 0x8000u);
}

TEST(RestoreVdso, NoVdsoAtDumpLeavesOursParked) {
  std::vector<ckpt::img::VmaEntry> none(1);
  none[0].set_start(0x400000); none[0].set_end(0x401000);
  auto plan = plan_vdso(ours(), {}, none, "", 0x100000);
  ASSERT_EQ(plan.size(), 3u);
  for (const auto& p : plan) EXPECT_EQ(p.target, 0u);
}

TEST(RestoreVdso, ADifferentSizeIsRefused) {
  std::string e = error_of(dumped(0x7ff000000000, 0x3000));
  EXPECT_NE(e.find("vDSO of this kernel differs"), std::string::npos) << e;
  EXPECT_NE(e.find("[vdso] is 12288 bytes at dump, 8192 here"), std::string::npos) << e;
}

TEST(RestoreVdso, AnotherLayoutIsRefused) {
  auto d = dumped(0x7ff000000000);
  d[2].set_start(0x7ff000010000);
  d[2].set_end(0x7ff000012000);
  EXPECT_NE(error_of(d).find("[vvar_vclock] sits at another distance"), std::string::npos) << error_of(d);
}

TEST(RestoreVdso, AMissingPartIsRefused) {
  auto d = dumped(0x7ff000000000);
  d.erase(d.begin() + 2);
  EXPECT_NE(error_of(d).find("the dump has no [vvar_vclock]"), std::string::npos) << error_of(d);
}

TEST(RestoreVdso, AnotherBuildIdIsRefused) {
  std::string e = error_of(dumped(0x7ff000000000), std::string("\x01\x02", 2), {0x01, 0x03});
  EXPECT_NE(e.find("build id 0102 at dump, 0103 here"), std::string::npos) << e;
  EXPECT_EQ(error_of(dumped(0x7ff000000000), std::string("\x01\x03", 2), {0x01, 0x03}), "");
}

TEST(RestoreVdso, FindsOurPartsInMaps) {
  auto maps = ckpt::proc::parse_maps(
      "7f785d92d000-7f785d931000 r--p 00000000 00:00 0                          [vvar]\n"
      "7f785d931000-7f785d933000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
      "7f785d933000-7f785d935000 r-xp 00000000 00:00 0                          [vdso]\n"
      "7f785d935000-7f785d936000 r--p 00000000 fe:00 332383                     /usr/lib/ld.so\n");
  auto parts = vdso_parts(maps);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].kind, ckpt::img::VMA_VVAR);
  EXPECT_EQ(parts[2].kind, ckpt::img::VMA_VDSO);
  EXPECT_EQ(parts[2].start, 0x7f785d933000u);
}

TEST(RestoreVdso, ReadsTheGnuBuildIdNote) {
  std::vector<uint8_t> img(512, 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_phoff = sizeof(eh);
  eh.e_phnum = 1;
  std::memcpy(img.data(), &eh, sizeof(eh));
  Elf64_Phdr ph{};
  ph.p_type = PT_NOTE;
  ph.p_offset = 256;
  ph.p_filesz = sizeof(Elf64_Nhdr) + 4 + 8;
  std::memcpy(img.data() + sizeof(eh), &ph, sizeof(ph));
  Elf64_Nhdr nh{4, 8, NT_GNU_BUILD_ID};
  std::memcpy(img.data() + 256, &nh, sizeof(nh));
  std::memcpy(img.data() + 256 + sizeof(nh), "GNU", 4);
  const uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::memcpy(img.data() + 256 + sizeof(nh) + 4, id, 8);
  EXPECT_EQ(elf_build_id(img.data(), img.size()), std::vector<uint8_t>(id, id + 8));
  EXPECT_TRUE(elf_build_id(img.data(), 40).empty());  // truncated
  img[1] = 'X';
  EXPECT_TRUE(elf_build_id(img.data(), img.size()).empty());  // not ELF
}

TEST(RestoreVdso, OwnVdsoHasABuildId) {
  // The kernels ckpt runs on build the vDSO with an id; an empty one would
  // make the build-id check silently pass.
  EXPECT_FALSE(own_vdso_build_id().empty());
}
