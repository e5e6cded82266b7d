// /proc/PID/maps and /proc/PID/smaps: one entry per memory area.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

struct MapsEntry {
  uint64_t start = 0, end = 0;
  bool read = false, write = false, exec = false;
  bool shared = false;            // 's' rather than 'p'
  uint64_t offset = 0;            // in bytes
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  // The name as the kernel prints it, unescaped ("\012" -> newline) and
  // without the " (deleted)" suffix: a path, "[heap]", "[vdso]", or empty.
  std::string name;
  bool deleted = false;           // the name ended in " (deleted)"
  // Two-letter flags of the smaps "VmFlags:" line ("gd", "dc", ...); empty
  // when parsed from maps.
  std::vector<std::string> vm_flags;

  bool has_vm_flag(std::string_view flag) const;
  bool is_file_path() const { return !name.empty() && name[0] == '/'; }
  uint64_t size() const { return end - start; }
};

// Parses maps or smaps text (smaps adds "Key: value" lines after each area,
// of which only VmFlags is kept).  `origin` names the source in errors.
std::vector<MapsEntry> parse_maps(std::string_view text, const std::string& origin = "maps");

// Parses one header line "start-end perms offset dev inode [name]".
MapsEntry parse_maps_line(std::string_view line, const std::string& origin = "maps");

}  // namespace ckpt::proc
