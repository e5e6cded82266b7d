// Reaching this kernel's vDSO from the dumped one's address: where its
// parts go and the jumps written at the dumped functions' offsets.
#include <gtest/gtest.h>

#include <cstring>

#include "restore/vdso_proxy.h"

using namespace ckpt::restore;

namespace {

std::vector<VdsoPart> ours() {
  return {{ckpt::img::VMA_VVAR, 0x7f0000000000, 0x7f0000004000},
          {ckpt::img::VMA_VVAR_VCLOCK, 0x7f0000004000, 0x7f0000006000},
          {ckpt::img::VMA_VDSO, 0x7f0000006000, 0x7f0000008000}};
}

uint64_t jump_target(const std::vector<uint8_t>& code, size_t at) {
  EXPECT_EQ(code[at], 0x48);
  EXPECT_EQ(code[at + 1], 0xb8);
  EXPECT_EQ(code[at + 10], 0xff);
  EXPECT_EQ(code[at + 11], 0xe0);
  uint64_t target;
  std::memcpy(&target, &code[at + 2], 8);
  return target;
}

}  // namespace

TEST(RestoreVdsoProxy, PartsMoveTogetherKeepingTheirDistances) {
  auto plan = plan_vdso_proxy(ours(), 0x100000, 0x200000);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].park, 0x100000u);
  EXPECT_EQ(plan[0].target, 0x200000u);
  EXPECT_EQ(plan[1].target, 0x204000u);
  EXPECT_EQ(plan[2].target, 0x206000u);
  EXPECT_EQ(vdso_span(ours()), 0x8000u);
  EXPECT_EQ(proxied_vdso_address(ours(), 0x200000), 0x206000u);
}

TEST(RestoreVdsoProxy, EachDumpedFunctionJumpsToTheSameNamedOne) {
  VdsoFunctions dumped = {{"__vdso_clock_gettime", 0x100}, {"clock_gettime", 0x100}, {"__vdso_time", 0x200}};
  VdsoFunctions here = {{"__vdso_time", 0x340}, {"__vdso_clock_gettime", 0x7c0}, {"clock_gettime", 0x7c0}};
  auto code = vdso_trampolines(dumped, 0x1000, here, 0x55000000);
  ASSERT_EQ(code.size(), 0x1000u);
  EXPECT_EQ(jump_target(code, 0x100), 0x550007c0u);
  EXPECT_EQ(jump_target(code, 0x200), 0x55000340u);
  EXPECT_EQ(code[0], 0xcc);
  EXPECT_EQ(code[0x10c], 0xcc);
}

TEST(RestoreVdsoProxy, MissingFunctionsMakeTheSystemCallOrFailWithEnosys) {
  VdsoFunctions dumped = {{"__vdso_gettimeofday", 0x100}, {"__vdso_sgx_enter_enclave", 0x200}};
  auto code = vdso_trampolines(dumped, 0x1000, {}, 0x55000000);
  const uint8_t syscall_stub[] = {0xb8, 96, 0, 0, 0, 0x0f, 0x05, 0xc3};  // SYS_gettimeofday
  EXPECT_EQ(std::memcmp(&code[0x100], syscall_stub, sizeof(syscall_stub)), 0);
  EXPECT_EQ(std::memcmp(&code[0x200], kVdsoEnosysStub, sizeof(kVdsoEnosysStub)), 0);
}

TEST(RestoreVdsoProxy, AJumpThatDoesNotFitBeforeTheNextFunctionIsRefused) {
  VdsoFunctions dumped = {{"__vdso_time", 0x100}, {"__vdso_getcpu", 0x108}};
  VdsoFunctions here = {{"__vdso_time", 0x340}, {"__vdso_getcpu", 0x400}};
  try {
    vdso_trampolines(dumped, 0x1000, here, 0x55000000);
    FAIL() << "no error";
  } catch (const ckpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("__vdso_time at offset 0x100 has 8 bytes"), std::string::npos) << e.what();
  }
  try {
    vdso_trampolines({{"__vdso_time", 0xffc}}, 0x1000, here, 0x55000000);
    FAIL() << "no error";
  } catch (const ckpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 4 bytes"), std::string::npos) << e.what();
  }
}

TEST(RestoreVdsoProxy, ADumpWithoutFunctionsCannotBeProxied) {
  ckpt::img::MmEntry mm;
  EXPECT_THROW(dumped_vdso_functions(mm), ckpt::Error);
  auto* s = mm.add_vdso_symbols();
  s->set_name("__vdso_time");
  s->set_offset(0x200);
  auto f = dumped_vdso_functions(mm);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].second, 0x200u);
}

TEST(RestoreVdsoProxy, TheDumpedPartsGetAnonymousStandIns) {
  ckpt::img::VmaEntry v;
  v.set_start(0x1000); v.set_end(0x3000); v.set_kind(ckpt::img::VMA_VDSO);
  auto b = vdso_stand_in(v);
  EXPECT_EQ(b.prot, unsigned(PROT_READ | PROT_EXEC));
  EXPECT_EQ(b.write_first, 1);
  EXPECT_EQ(b.fd, -1);
  v.set_kind(ckpt::img::VMA_VVAR);
  b = vdso_stand_in(v);
  EXPECT_EQ(b.prot, unsigned(PROT_READ));
  EXPECT_EQ(b.write_first, 0);
}
