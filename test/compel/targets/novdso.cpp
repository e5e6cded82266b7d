// A process without a vDSO (it unmapped it, as some sandboxes and restore
// tools do): compel must find another place for its syscall instruction.
// No time functions may be called afterwards (glibc would jump into the
// unmapped vDSO).
#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "target.h"

int main() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  struct Area { uintptr_t start, end; };
  Area areas[8];
  int n = 0;
  while (std::getline(maps, line) && n < 8)
    if (line.find("[vdso]") != std::string::npos || line.find("[vvar") != std::string::npos)
      areas[n++] = {std::stoul(line, nullptr, 16), std::stoul(line.substr(line.find('-') + 1), nullptr, 16)};
  maps.close();
  for (int i = 0; i < n; i++)
    if (munmap(reinterpret_cast<void*>(areas[i].start), areas[i].end - areas[i].start) != 0)
      target::fail("munmap of the vDSO failed");
  target::say("ready %d", n);
  for (;;) {
    std::string cmd = target::read_command();
    if (cmd == "exit") return 0;
  }
}
