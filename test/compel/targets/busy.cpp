// A busy loop carrying a running checksum twice, in general, SSE and (if the
// CPU has it) AVX registers; any register compel fails to put back shows up
// as the two copies disagreeing.  Publishes its progress counter's address
// so the driver can tell whether it runs.
#include <cstdint>

#include "target.h"

volatile uint64_t progress;

typedef double vec4 __attribute__((vector_size(32)));

template <bool kAvx>
static void spin() {
  uint64_t a = 1, b = 1;
  double x = 1.0, y = 1.0;
  vec4 v = {1, 2, 3, 4}, w = {1, 2, 3, 4};
  const vec4 m = {1.0000001, 1.0000002, 1.0000003, 1.0000004};
  for (uint64_t i = 1;; i++) {
    a = a * 6364136223846793005ULL + 1442695040888963407ULL;
    b = b * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(a));
    asm volatile("" : "+r"(b));
    x = x * 1.0000001 + 0.25;
    y = y * 1.0000001 + 0.25;
    asm volatile("" : "+x"(x));
    asm volatile("" : "+x"(y));
    if constexpr (kAvx) {
      v = v * m + 0.5;
      w = w * m + 0.5;
      asm volatile("" : "+x"(v));
      asm volatile("" : "+x"(w));
    }
    if (a != b) target::fail("integer checksum diverged at iteration %llu", (unsigned long long)i);
    if (x != y) target::fail("SSE checksum diverged at iteration %llu", (unsigned long long)i);
    if (kAvx && __builtin_memcmp(&v, &w, sizeof(v)) != 0)
      target::fail("AVX checksum diverged at iteration %llu", (unsigned long long)i);
    if ((i & 0xffff) == 0) {
      x = y = 1.0;
      v = w = vec4{1, 2, 3, 4};
      progress = i;
      if (target::stop_requested()) return;
    }
  }
}

__attribute__((target("avx2"))) static void spin_avx() { spin<true>(); }

int main() {
  target::say("ready %p", (void*)&progress);
  if (__builtin_cpu_supports("avx2"))
    spin_avx();
  else
    spin<false>();
  return 0;
}
