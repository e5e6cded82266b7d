// The signal frame the restorer's rt_sigreturn consumes, checked against
// glibc's ucontext_t, whose mcontext has the kernel's sigcontext layout.
#include <gtest/gtest.h>
#include <sys/ucontext.h>

#include <cstring>

#include "ckpt/sigframe.h"

using namespace ckpt;

namespace {

FrameInput sample() {
  FrameInput in;
  user_regs_struct& r = in.regs;
  r.r8 = 8; r.r9 = 9; r.r10 = 10; r.r11 = 11; r.r12 = 12; r.r13 = 13; r.r14 = 14; r.r15 = 15;
  r.rdi = 0xd1; r.rsi = 0x51; r.rbp = 0xb9; r.rbx = 0xb0; r.rdx = 0xd0; r.rax = 0xa0; r.rcx = 0xc0;
  r.rsp = 0x7ffc0000; r.rip = 0x401000; r.eflags = 0x246; r.cs = 0x33; r.ss = 0x2b;
  r.orig_rax = uint64_t(-1);
  in.blocked = 0x8000;
  return in;
}

struct Frame {
  std::vector<uint8_t> bytes;
  uint64_t base = 0x10000;
  const ucontext_t& uc() const { return *reinterpret_cast<const ucontext_t*>(bytes.data() + 8); }
  uint8_t* at(uint64_t addr) { return bytes.data() + (addr - base); }
};

Frame build(const FrameInput& in) {
  Frame f;
  f.bytes.assign(sigframe_bytes(in) + 64, 0xff);
  EXPECT_EQ(build_sigframe(f.bytes.data(), f.base, in), f.base);
  return f;
}

uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

TEST(RestoreSigframe, RegistersLandWhereTheKernelReadsThem) {
  Frame f = build(sample());
  const mcontext_t& m = f.uc().uc_mcontext;
  EXPECT_EQ(m.gregs[REG_R8], 8);
  EXPECT_EQ(m.gregs[REG_R15], 15);
  EXPECT_EQ(m.gregs[REG_RDI], 0xd1);
  EXPECT_EQ(m.gregs[REG_RSI], 0x51);
  EXPECT_EQ(m.gregs[REG_RBP], 0xb9);
  EXPECT_EQ(m.gregs[REG_RBX], 0xb0);
  EXPECT_EQ(m.gregs[REG_RDX], 0xd0);
  EXPECT_EQ(m.gregs[REG_RAX], 0xa0);
  EXPECT_EQ(m.gregs[REG_RCX], 0xc0);
  EXPECT_EQ(m.gregs[REG_RSP], 0x7ffc0000);
  EXPECT_EQ(m.gregs[REG_RIP], 0x401000);
  EXPECT_EQ(m.gregs[REG_EFL], 0x246);
  // cs, gs, fs, ss packed in one greg.
  EXPECT_EQ(uint64_t(m.gregs[REG_CSGSFS]) & 0xffff, 0x33u);
  EXPECT_EQ((uint64_t(m.gregs[REG_CSGSFS]) >> 48) & 0xffff, 0x2bu);
  EXPECT_EQ(m.fpregs, nullptr);  // no FPU state given: the kernel resets it
  uint64_t mask;
  std::memcpy(&mask, &f.uc().uc_sigmask, 8);
  EXPECT_EQ(mask, 0x8000u);
  EXPECT_EQ(f.uc().uc_flags, uint64_t(CKPT_UC_SIGCONTEXT_SS | CKPT_UC_STRICT_RESTORE_SS));
  EXPECT_EQ(f.uc().uc_stack.ss_flags, SS_DISABLE);
}

TEST(RestoreSigframe, CarriesTheAlternateStack) {
  FrameInput in = sample();
  in.has_altstack = true;
  in.altstack_sp = 0x600000;
  in.altstack_size = 65536;
  in.altstack_flags = 0;
  Frame f = build(in);
  EXPECT_EQ(reinterpret_cast<uint64_t>(f.uc().uc_stack.ss_sp), 0x600000u);
  EXPECT_EQ(f.uc().uc_stack.ss_size, 65536u);
  EXPECT_EQ(f.uc().uc_stack.ss_flags, 0);
}

TEST(RestoreSigframe, XstateGetsItsSoftwareBytesAndTrailer) {
  FrameInput in = sample();
  in.xsave.assign(832, 0);
  for (size_t i = 0; i < in.xsave.size(); i++) in.xsave[i] = uint8_t(i * 7);
  uint64_t xstate_bv = 0x7;
  std::memcpy(&in.xsave[512], &xstate_bv, 8);
  std::memset(&in.xsave[464], 0, 48);  // no software bytes from the dump
  Frame f = build(in);
  uint64_t fp = reinterpret_cast<uint64_t>(f.uc().uc_mcontext.fpregs);
  ASSERT_NE(fp, 0u);
  EXPECT_EQ(fp % 64, 0u);
  uint8_t* area = f.at(fp);
  EXPECT_EQ(u32(area + 464), kFpXstateMagic1);
  EXPECT_EQ(u32(area + 468), 832u + 4);  // extended_size
  uint64_t xfeatures;
  std::memcpy(&xfeatures, area + 472, 8);
  EXPECT_EQ(xfeatures, 0x7u);
  EXPECT_EQ(u32(area + 480), 832u);      // xstate_size
  EXPECT_EQ(u32(area + 832), kFpXstateMagic2);
  EXPECT_EQ(area[100], uint8_t(100 * 7));  // the state itself is copied
  EXPECT_EQ(area[700], uint8_t(700 * 7));
  EXPECT_TRUE(f.uc().uc_flags & CKPT_UC_FP_XSTATE);
  EXPECT_LE(fp + 836, f.base + sigframe_bytes(in));
}

TEST(RestoreSigframe, KeepsTheKernelsFeatureMaskWhenTheDumpHasOne) {
  FrameInput in = sample();
  in.xsave.assign(1088, 0);
  uint32_t sw[12] = {kFpXstateMagic1, 1092, 0x2e7, 0, 1088};
  std::memcpy(&in.xsave[464], sw, sizeof(sw));
  Frame f = build(in);
  uint8_t* area = f.at(reinterpret_cast<uint64_t>(f.uc().uc_mcontext.fpregs));
  uint64_t xfeatures;
  std::memcpy(&xfeatures, area + 472, 8);
  EXPECT_EQ(xfeatures, 0x2e7u);
  EXPECT_EQ(u32(area + 1088), kFpXstateMagic2);
}

TEST(RestoreSigframe, LegacyFxsaveHasNoXstateMagic) {
  FrameInput in = sample();
  in.fxsave.assign(512, 0x11);
  Frame f = build(in);
  uint8_t* area = f.at(reinterpret_cast<uint64_t>(f.uc().uc_mcontext.fpregs));
  EXPECT_EQ(u32(area + 464), 0u);
  EXPECT_EQ(area[0], 0x11);
  EXPECT_FALSE(f.uc().uc_flags & CKPT_UC_FP_XSTATE);
}

TEST(RestoreSigframe, RefusesAnUnalignedPlace) {
  FrameInput in = sample();
  std::vector<uint8_t> buf(sigframe_bytes(in));
  EXPECT_THROW(build_sigframe(buf.data(), 0x10008, in), ckpt::Error);
}

TEST(RestoreSyscallRestart, InterruptedRestartableSyscallIsRepeated) {
  user_regs_struct r{};
  r.orig_rax = 61;  // wait4
  r.rax = uint64_t(-512);  // -ERESTARTSYS
  r.rip = 0x1002;
  settle_interrupted_syscall(r);
  EXPECT_EQ(r.rax, 61u);
  EXPECT_EQ(r.rip, 0x1000u);
  settle_interrupted_syscall(r);  // idempotent
  EXPECT_EQ(r.rax, 61u);
  EXPECT_EQ(r.rip, 0x1000u);
}

TEST(RestoreSyscallRestart, SleepsAndTimedWaitsAreIssuedAgain) {
  for (uint64_t nr : {35 /* nanosleep */, 230 /* clock_nanosleep */, 202 /* futex */, 7 /* poll */}) {
    user_regs_struct r{};
    r.orig_rax = nr;
    r.rax = uint64_t(-516);  // -ERESTART_RESTARTBLOCK
    r.rip = 0x2002;
    settle_interrupted_syscall(r);
    EXPECT_EQ(r.rax, nr);
    EXPECT_EQ(r.rip, 0x2000u);
    settle_interrupted_syscall(r);  // idempotent
    EXPECT_EQ(r.rip, 0x2000u);
  }
}

TEST(RestoreSyscallRestart, AWaitEndedByTheFreezeIsIssuedAgain) {
  for (uint64_t nr : {232 /* epoll_wait */, 281 /* epoll_pwait */, 128 /* rt_sigtimedwait */}) {
    user_regs_struct r{};
    r.orig_rax = nr;
    r.rax = uint64_t(-4);  // -EINTR, from the ptrace interrupt
    r.rip = 0x4002;
    restart_eintr_of_the_freeze(r, 0);
    EXPECT_EQ(r.rax, nr);
    EXPECT_EQ(r.rip, 0x4000u);
  }
}

TEST(RestoreSyscallRestart, AWaitEndedByASignalKeepsItsEintr) {
  user_regs_struct r{};
  r.orig_rax = 232;  // epoll_wait
  r.rax = uint64_t(-4);
  r.rip = 0x4002;
  restart_eintr_of_the_freeze(r, uint64_t(1) << (10 - 1));  // SIGUSR1 about to be handled
  EXPECT_EQ(int64_t(r.rax), -4);
  EXPECT_EQ(r.rip, 0x4002u);
  r.orig_rax = 0;  // a read's EINTR is a handler's, never the freeze's
  restart_eintr_of_the_freeze(r, 0);
  EXPECT_EQ(int64_t(r.rax), -4);
}

TEST(RestoreSyscallRestart, OtherRestartBlocksBecomeEintr) {
  user_regs_struct r{};
  r.orig_rax = 34;  // pause has no restart block; anything else unknown
  r.rax = uint64_t(-516);
  r.rip = 0x2002;
  settle_interrupted_syscall(r);
  EXPECT_EQ(int64_t(r.rax), -4);
  EXPECT_EQ(r.rip, 0x2002u);
}

TEST(RestoreSyscallRestart, OutsideASyscallNothingChanges) {
  user_regs_struct r{};
  r.orig_rax = uint64_t(-1);
  r.rax = uint64_t(-512);
  r.rip = 0x3000;
  settle_interrupted_syscall(r);
  EXPECT_EQ(r.rax, uint64_t(-512));
  EXPECT_EQ(r.rip, 0x3000u);
  r.orig_rax = 0;
  r.rax = 5;  // a finished read
  settle_interrupted_syscall(r);
  EXPECT_EQ(r.rax, 5u);
}
