// A process with a lot of touched memory, for the progress line and the
// stats (stats.sh): CKPT_TEST_MIB MiB (default 1536) of anonymous memory,
// one word written in each page but the untouched holes (every 64th page),
// checked page by page after the round trip.
#include "testlib.h"

#include <stdint.h>
#include <sys/mman.h>

namespace {

constexpr size_t kPage = 4096;

bool is_hole(size_t page) { return page % 64 == 63; }
uint64_t word(size_t page) { return page * 0x9e3779b97f4a7c15ull + 1; }

}  // namespace

int main() {
  rt::block_term();
  const char* mib = getenv("CKPT_TEST_MIB");
  size_t size = size_t(mib ? atol(mib) : 1536) << 20;
  RT_CHECK(size > 0, "CKPT_TEST_MIB='%s'", mib ? mib : "");
  auto* p = static_cast<uint8_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(p != MAP_FAILED, "mmap of %zu bytes", size);
  for (size_t pg = 0; pg < size / kPage; pg++)
    if (!is_hole(pg)) *reinterpret_cast<uint64_t*>(p + pg * kPage) = word(pg);
  rt::ready();
  rt::wait_term();
  for (size_t pg = 0; pg < size / kPage; pg++) {
    uint64_t got = *reinterpret_cast<uint64_t*>(p + pg * kPage);
    uint64_t want = is_hole(pg) ? 0 : word(pg);
    RT_CHECK(got == want, "page %zu holds %llx, want %llx", pg, (unsigned long long)got, (unsigned long long)want);
  }
  rt::pass();
}
