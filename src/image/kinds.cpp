// The table of image kinds: one line per kind, naming its file, its magic and
// the message its records hold.  Everything else about kinds derives from it.
#include <charconv>

#include "core.pb.h"
#include "files.pb.h"
#include "image/image.h"
#include "inventory.pb.h"
#include "manifest.pb.h"
#include "mm.pb.h"
#include "pagemap.pb.h"
#include "pstree.pb.h"
#include "ghost.pb.h"
#include "shmem.pb.h"
#include "stats.pb.h"

namespace ckpt::image {

namespace {

constexpr std::string_view kSuffix = ".img";
constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;
constexpr uint64_t kUnbounded = ~0ull;

// The magics spell four ASCII letters when read as a big-endian number, so
// an error message such as "bad magic 0x434f5245" can be decoded by eye.
std::vector<KindInfo> make_kinds() {
  return {
      {Kind::Inventory, "inventory", 0x494e5654 /* INVT */, false, &img::InventoryEntry::default_instance(), 1 * MiB},
      {Kind::Pstree, "pstree", 0x50535452 /* PSTR */, false, &img::PstreeEntry::default_instance(), 64 * MiB},
      {Kind::Core, "core", 0x434f5245 /* CORE */, true, &img::CoreEntry::default_instance(), 65 * MiB},
      {Kind::Mm, "mm", 0x4d4d4150 /* MMAP */, true, &img::VmaRecord::default_instance(), 512 * MiB},
      {Kind::Pagemap, "pagemap", 0x50474d50 /* PGMP */, true, &img::PagemapRecord::default_instance(), 512 * MiB},
      {Kind::Files, "files", 0x46494c45 /* FILE */, false, &img::FileEntry::default_instance(), 512 * MiB},
      {Kind::Fdinfo, "fdinfo", 0x46444e46 /* FDNF */, true, &img::FdinfoEntry::default_instance(), 64 * MiB},
      {Kind::Fs, "fs", 0x46534653 /* FSFS */, true, &img::FsEntry::default_instance(), 1 * MiB},
      // Raw page data: no header, so no magic and no records.
      {Kind::Pages, "pages", 0, true, nullptr, kUnbounded},
      {Kind::Shmem, "shmem", 0x53484d4d /* SHMM */, true, &img::ShmemRecord::default_instance(), 512 * MiB},
      {Kind::ShmemPages, "shmem-pages", 0, true, nullptr, kUnbounded},
      {Kind::Ghost, "ghost", 0x47485354 /* GHST */, true, &img::GhostRecord::default_instance(), 4 * GiB},
      {Kind::StatsDump, "stats-dump", 0x53544144 /* STAD */, false, &img::DumpStatsEntry::default_instance(), 1 * MiB},
      {Kind::StatsRestore, "stats-restore", 0x53544152 /* STAR */, false, &img::RestoreStatsEntry::default_instance(),
       1 * MiB},
      {Kind::Manifest, "manifest", 0x4d4e4654 /* MNFT */, false, &img::ManifestRecord::default_instance(), 64 * MiB},
  };
}

}  // namespace

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> table = make_kinds();
  return table;
}

const KindInfo& info(Kind kind) {
  for (const KindInfo& k : kinds())
    if (k.kind == kind) return k;
  throw Error(format("unknown image kind %u", unsigned(kind)));
}

std::optional<ParsedFilename> parse_filename(const std::string& filename) {
  std::string_view name(filename);
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  std::string_view stem = name;
  std::optional<uint64_t> id;
  // A name ending in "-DIGITS" carries an id; any other dash is part of the
  // kind's name ("stats-dump").
  if (size_t dash = name.rfind('-'); dash != std::string_view::npos) {
    std::string_view digits = name.substr(dash + 1);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (!digits.empty() && ec == std::errc() && end == digits.data() + digits.size()) {
      stem = name.substr(0, dash);
      id = value;
    }
  }
  for (const KindInfo& k : kinds())
    if (stem == k.name && k.per_id == id.has_value()) return ParsedFilename{k.kind, id};
  return std::nullopt;
}

bool holds_one_record(Kind kind) {
  return kind == Kind::Inventory || kind == Kind::Core || kind == Kind::Fs || kind == Kind::StatsDump ||
         kind == Kind::StatsRestore;
}

std::optional<Kind> kind_of_filename(const std::string& filename) {
  if (auto parsed = parse_filename(filename)) return parsed->kind;
  return std::nullopt;
}

std::string filename(Kind kind, std::optional<uint64_t> id) {
  const KindInfo& k = info(kind);
  if (k.per_id != id.has_value())
    throw Error(format("%s images %s an id", k.name, k.per_id ? "need" : "take no"));
  if (!id) return std::string(k.name) + std::string(kSuffix);
  return format("%s-%llu", k.name, (unsigned long long)*id) + std::string(kSuffix);
}

}  // namespace ckpt::image
