// Memory of every common kind, verified byte for byte after the round trip:
// 128 MiB of anonymous memory with a pattern and never-touched holes, heap
// blocks, a private file mapping with some pages written, a read-only area,
// a zero-filled but touched area, and a big buffer on the stack.
#include "testlib.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include <vector>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kBig = 128u << 20;

uint8_t pattern(size_t i, uint8_t seed) { return uint8_t((i * 2654435761u >> 13) ^ seed); }

// Every 16th page of the big area stays untouched (a hole) and must read as zero.
bool is_hole(size_t page) { return page % 16 == 7; }

void fill_big(uint8_t* p) {
  for (size_t pg = 0; pg < kBig / kPage; pg++) {
    if (is_hole(pg)) continue;
    for (size_t i = 0; i < kPage; i += 8) p[pg * kPage + i] = pattern(pg * kPage + i, 0x5a);
  }
}

void check_big(const uint8_t* p) {
  for (size_t pg = 0; pg < kBig / kPage; pg++) {
    for (size_t i = 0; i < kPage; i++) {
      uint8_t want = (is_hole(pg) || i % 8) ? 0 : pattern(pg * kPage + i, 0x5a);
      RT_CHECK(p[pg * kPage + i] == want, "big area byte 0x%zx is %02x, want %02x", pg * kPage + i,
               p[pg * kPage + i], want);
    }
  }
}

}  // namespace

int main() {
  rt::block_term();

  auto* big = static_cast<uint8_t*>(mmap(nullptr, kBig, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(big != MAP_FAILED, "mmap big");
  fill_big(big);

  std::vector<uint8_t*> heap;
  for (int i = 0; i < 64; i++) {
    auto* b = static_cast<uint8_t*>(malloc(1000 + i * 97));
    for (int j = 0; j < 1000 + i * 97; j++) b[j] = uint8_t(i + j);
    heap.push_back(b);
  }

  // A private mapping of a file of ours: some pages written (they must come
  // back as written), the others still the file's.
  char path[] = "memory-file-XXXXXX";
  int fd = mkstemp(path);
  RT_CHECK(fd >= 0, "mkstemp");
  std::vector<uint8_t> content(16 * kPage);
  for (size_t i = 0; i < content.size(); i++) content[i] = uint8_t(i * 7);
  RT_CHECK(write(fd, content.data(), content.size()) == ssize_t(content.size()), "write file");
  auto* fmap = static_cast<uint8_t*>(mmap(nullptr, content.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  RT_CHECK(fmap != MAP_FAILED, "mmap file");
  close(fd);
  for (size_t pg = 0; pg < 16; pg += 3) memset(fmap + pg * kPage + 100, 0xee, 200);

  auto* ro = static_cast<uint8_t*>(mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (size_t i = 0; i < 8 * kPage; i++) ro[i] = uint8_t(i ^ 0x33);
  RT_CHECK(mprotect(ro, 8 * kPage, PROT_READ) == 0, "mprotect");

  // Touched, but with zeros only (the zero page when only read).
  auto* zeros = static_cast<volatile uint8_t*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  uint8_t sum = 0;
  for (size_t i = 0; i < 4 * kPage; i += kPage) sum += zeros[i];

  volatile uint8_t stack_buf[512 * 1024];
  for (size_t i = 0; i < sizeof(stack_buf); i++) stack_buf[i] = uint8_t(i * 13 + 1);

  rt::ready();
  rt::wait_term();

  check_big(big);
  for (int i = 0; i < 64; i++)
    for (int j = 0; j < 1000 + i * 97; j++) RT_CHECK(heap[i][j] == uint8_t(i + j), "heap block %d byte %d", i, j);
  for (size_t pg = 0; pg < 16; pg++)
    for (size_t i = 0; i < kPage; i++) {
      uint8_t want = (pg % 3 == 0 && i >= 100 && i < 300) ? 0xee : content[pg * kPage + i];
      RT_CHECK(fmap[pg * kPage + i] == want, "file mapping page %zu byte %zu", pg, i);
    }
  for (size_t i = 0; i < 8 * kPage; i++) RT_CHECK(ro[i] == uint8_t(i ^ 0x33), "read-only byte %zu", i);
  RT_CHECK(mprotect(ro, kPage, PROT_READ) == 0, "read-only area is gone");
  for (size_t i = 0; i < 4 * kPage; i++) RT_CHECK(zeros[i] == 0, "zero area byte %zu", i);
  RT_CHECK(sum == 0, "zero sum");
  for (size_t i = 0; i < sizeof(stack_buf); i++) RT_CHECK(stack_buf[i] == uint8_t(i * 13 + 1), "stack byte %zu", i);
  unlink(path);
  rt::pass();
}
