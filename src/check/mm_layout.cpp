#include "check/mm_layout.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "check/read_file.h"
#include "ckpt/error.h"

namespace ckpt::check {

MmLayout read_mm_layout() {
  MmLayout out;
  auto map = parse_stat_mm(read_file("/proc/self/stat"));
  if (!map) throw Error("cannot parse the memory layout fields of /proc/self/stat");
  out.map = *map;
  out.map.brk = static_cast<__u64>(syscall(SYS_brk, 0));
  std::string auxv = read_file("/proc/self/auxv");
  out.auxv.resize(auxv.size() / sizeof(__u64));
  memcpy(out.auxv.data(), auxv.data(), out.auxv.size() * sizeof(__u64));
  return out;
}

}  // namespace ckpt::check
