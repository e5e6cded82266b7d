// The benchmark's target: touches N MiB of anonymous memory (argv[1]), each
// page with distinct content, tells the caller (a line on stdout, a regular
// file) and then idles until killed.  On SIGTERM it verifies its memory and
// prints "OK" or "BAD", so the benchmark also proves the restore was right.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

namespace {
volatile sig_atomic_t g_term = 0;
void on_term(int) { g_term = 1; }
}  // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], nullptr, 10) : 256;
  size_t size = mib << 20;
  auto* mem = static_cast<uint64_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED) return 1;
  for (size_t i = 0; i < size / 8; i += 512) mem[i] = i * 0x9e3779b97f4a7c15ull;
  signal(SIGTERM, on_term);
  printf("ready %zu MiB\n", mib);
  fflush(stdout);
  while (!g_term) pause();
  for (size_t i = 0; i < size / 8; i += 512)
    if (mem[i] != i * 0x9e3779b97f4a7c15ull) {
      printf("BAD at %zu\n", i);
      return 1;
    }
  printf("OK\n");
  return 0;
}
