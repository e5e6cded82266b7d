// A busy counter that must keep counting across the round trip: the count
// and a running checksum of it live in registers and on the stack while the
// loop spins; after SIGTERM both must agree and the count must have grown
// since the process said it was ready.
#include "testlib.h"

#include <stdint.h>

int main() {
  rt::install_term_flag();
  volatile uint64_t at_ready = 0;
  uint64_t count = 0, checksum = 0;
  double deadline = rt::now_seconds() + rt::kWaitLimitSeconds;
  for (;;) {
    count++;
    checksum = checksum * 31 + count;
    if (count == 1000000) {
      at_ready = count;
      rt::ready();
    }
    if ((count & 0xfffff) == 0) {
      if (rt::g_term) break;
      if (rt::now_seconds() > deadline) rt::fail("no SIGTERM");
    }
  }
  uint64_t expect = 0;
  for (uint64_t i = 1; i <= count; i++) expect = expect * 31 + i;
  RT_CHECK(expect == checksum, "checksum %llx != %llx after %llu counts",
           (unsigned long long)checksum, (unsigned long long)expect, (unsigned long long)count);
  RT_CHECK(count > at_ready, "the counter did not move");
  rt::pass();
}
