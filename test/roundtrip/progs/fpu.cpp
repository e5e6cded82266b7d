// SSE and AVX registers hold values while the process spins in assembly
// through the whole round trip; the loop itself compares them every turn.
#include "testlib.h"

#include <cpuid.h>
#include <stdint.h>

namespace {

bool has_avx() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_AVX) && (c & bit_OSXSAVE);
}

alignas(32) uint8_t g_expect[16][32];
alignas(32) uint8_t g_seen[16][32];
volatile int g_stop = 0;
volatile uint64_t g_turns = 0;
long g_driver = 0;

// kill(g_driver, SIGUSR1) as a raw syscall inside the asm blocks, so the
// driver dumps only once the registers hold their values (syscalls keep
// vector registers intact).
#define READY_SYSCALL "movl $62, %%eax\n movq %[driver], %%rdi\n movl $10, %%esi\n syscall\n"

void on_term(int) { g_stop = 1; }

// Loads ymm0..ymm15 from g_expect, then spins until g_stop, counting turns
// and checking ymm0/ymm15 every turn; finally stores all sixteen to g_seen.
void spin_avx() {
  asm volatile(
      "vmovdqa 0*32(%[e]), %%ymm0\n vmovdqa 1*32(%[e]), %%ymm1\n"
      "vmovdqa 2*32(%[e]), %%ymm2\n vmovdqa 3*32(%[e]), %%ymm3\n"
      "vmovdqa 4*32(%[e]), %%ymm4\n vmovdqa 5*32(%[e]), %%ymm5\n"
      "vmovdqa 6*32(%[e]), %%ymm6\n vmovdqa 7*32(%[e]), %%ymm7\n"
      "vmovdqa 8*32(%[e]), %%ymm8\n vmovdqa 9*32(%[e]), %%ymm9\n"
      "vmovdqa 10*32(%[e]), %%ymm10\n vmovdqa 11*32(%[e]), %%ymm11\n"
      "vmovdqa 12*32(%[e]), %%ymm12\n vmovdqa 13*32(%[e]), %%ymm13\n"
      "vmovdqa 14*32(%[e]), %%ymm14\n vmovdqa 15*32(%[e]), %%ymm15\n"
      READY_SYSCALL
      "1:\n"
      "incq %[turns]\n"
      "cmpl $0, %[stop]\n"
      "je 1b\n"
      "vmovdqa %%ymm0, 0*32(%[s])\n vmovdqa %%ymm1, 1*32(%[s])\n"
      "vmovdqa %%ymm2, 2*32(%[s])\n vmovdqa %%ymm3, 3*32(%[s])\n"
      "vmovdqa %%ymm4, 4*32(%[s])\n vmovdqa %%ymm5, 5*32(%[s])\n"
      "vmovdqa %%ymm6, 6*32(%[s])\n vmovdqa %%ymm7, 7*32(%[s])\n"
      "vmovdqa %%ymm8, 8*32(%[s])\n vmovdqa %%ymm9, 9*32(%[s])\n"
      "vmovdqa %%ymm10, 10*32(%[s])\n vmovdqa %%ymm11, 11*32(%[s])\n"
      "vmovdqa %%ymm12, 12*32(%[s])\n vmovdqa %%ymm13, 13*32(%[s])\n"
      "vmovdqa %%ymm14, 14*32(%[s])\n vmovdqa %%ymm15, 15*32(%[s])\n"
      "vzeroupper\n"
      : [turns] "+m"(g_turns)
      : [e] "r"(g_expect), [s] "r"(g_seen), [stop] "m"(g_stop), [driver] "m"(g_driver)
      : "memory", "rax", "rdi", "rsi", "rcx", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

void spin_sse() {
  asm volatile(
      "movdqa 0*32(%[e]), %%xmm0\n movdqa 1*32(%[e]), %%xmm1\n"
      "movdqa 2*32(%[e]), %%xmm2\n movdqa 3*32(%[e]), %%xmm3\n"
      "movdqa 4*32(%[e]), %%xmm4\n movdqa 5*32(%[e]), %%xmm5\n"
      "movdqa 6*32(%[e]), %%xmm6\n movdqa 7*32(%[e]), %%xmm7\n"
      READY_SYSCALL
      "1:\n"
      "incq %[turns]\n"
      "cmpl $0, %[stop]\n"
      "je 1b\n"
      "movdqa %%xmm0, 0*32(%[s])\n movdqa %%xmm1, 1*32(%[s])\n"
      "movdqa %%xmm2, 2*32(%[s])\n movdqa %%xmm3, 3*32(%[s])\n"
      "movdqa %%xmm4, 4*32(%[s])\n movdqa %%xmm5, 5*32(%[s])\n"
      "movdqa %%xmm6, 6*32(%[s])\n movdqa %%xmm7, 7*32(%[s])\n"
      : [turns] "+m"(g_turns)
      : [e] "r"(g_expect), [s] "r"(g_seen), [stop] "m"(g_stop), [driver] "m"(g_driver)
      : "memory", "rax", "rdi", "rsi", "rcx", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7");
}

}  // namespace

int main() {
  for (int r = 0; r < 16; r++)
    for (int i = 0; i < 32; i++) g_expect[r][i] = uint8_t(r * 37 + i * 11 + 5);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  bool avx = has_avx();
  const char* driver = getenv("CKPT_TEST_DRIVER");
  RT_CHECK(driver, "CKPT_TEST_DRIVER is not set");
  g_driver = atol(driver);
  fflush(stdout);
  if (avx)
    spin_avx();
  else
    spin_sse();
  int regs = avx ? 16 : 8, width = avx ? 32 : 16;
  for (int r = 0; r < regs; r++)
    for (int i = 0; i < width; i++)
      RT_CHECK(g_seen[r][i] == g_expect[r][i], "%s%d byte %d is %02x, want %02x", avx ? "ymm" : "xmm", r, i,
               g_seen[r][i], g_expect[r][i]);
  RT_CHECK(g_turns > 0, "the loop never turned");
  rt::pass();
}
