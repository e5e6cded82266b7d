// The image layer: the only code that opens image files.
//
// An image file is a 32-byte header (signature "CKPTIMG\0", the kind's magic,
// the format version, the id of the image set: 16 random bytes drawn for each
// dump) followed by records, each a little-endian u32 length and that many
// bytes of one protobuf message.  Page data is the exception: a raw,
// page-aligned file (pages-N.img) described by the pagemap image.
//
// Writers create "<name>.tmp" with mode 0600 and rename it over <name> after
// an fsync on commit(); a writer destroyed without commit() unlinks its
// temporary file, so a failed dump never leaves a half-written image behind.
// Readers open an image without following a symlink and only if it is a
// regular file within its kind's size limit ("cannot read image DIR/FILE:
// it is a FIFO, not a regular file"), then check the header and every length
// and throw CorruptedImage ("corrupted image DIR/FILE: REASON"), also for an
// image whose set id is not the inventory's (a file of another dump).
#pragma once

#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::image {

inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kMaxRecordSize = 64u << 20;

enum class Kind : uint32_t {
  Inventory,  // inventory.img        InventoryEntry
  Pstree,     // pstree.img           PstreeEntry*
  Core,       // core-<tid>.img       CoreEntry
  Mm,         // mm-<pid>.img         VmaRecord* (first one holds MmEntry)
  Pagemap,    // pagemap-<pid>.img    PagemapRecord* (first one holds the head)
  Files,      // files.img            FileEntry*
  Fdinfo,     // fdinfo-<pid>.img     FdinfoEntry*
  Fs,         // fs-<pid>.img         FsEntry
  Pages,      // pages-<id>.img       raw page data, no header
  Shmem,      // shmem-<id>.img       ShmemRecord* (first one holds the head)
  ShmemPages, // shmem-pages-<id>.img raw page data of a shmem object, no header
  Ghost,      // ghost-<id>.img       GhostRecord* (first one holds the head)
  StatsDump,    // stats-dump.img     DumpStatsEntry (after the commit: outside the set's checks)
  StatsRestore, // stats-restore.img  RestoreStatsEntry (written by each restore)
  Manifest,   // manifest.img         ManifestRecord* (head, then one per image file), written last
};

struct KindInfo {
  Kind kind;
  const char* name;         // "core"
  uint32_t magic;
  bool per_id;              // file name carries an id: "core-1234.img"
  // Prototype message of one record, for `ckpt show`; nullptr for raw files.
  const google::protobuf::Message* prototype;
  // The largest file a reader accepts (read whole into memory): a bound
  // per kind, far above what a dump writes.  Raw page data has none here:
  // restore bounds it by what the pagemap puts there.
  uint64_t max_size;
};

// The table of every image kind.
const std::vector<KindInfo>& kinds();
const KindInfo& info(Kind kind);
// Which kind a file name is ("core-12.img" -> Core), or nullopt.
std::optional<Kind> kind_of_filename(const std::string& filename);
// The kind and id a file name carries ("core-12.img" -> Core, 12), or nullopt.
struct ParsedFilename {
  Kind kind;
  std::optional<uint64_t> id;
};
std::optional<ParsedFilename> parse_filename(const std::string& filename);
// Whether images of this kind hold exactly one record (inventory, core, fs,
// stats).
bool holds_one_record(Kind kind);
// "a FIFO", "a symbolic link", "a regular file"..., for messages.
std::string file_type_name(unsigned mode);
// "core-12.img", "inventory.img"
std::string filename(Kind kind, std::optional<uint64_t> id = std::nullopt);

// Which dump an image belongs to.
using SetId = std::array<uint8_t, 16>;
std::string set_id_text(const SetId& id);  // 32 hex digits

// What the manifest says of one image file: its name in the directory, its
// size and its SHA-256 (64 hex digits).  Writers compute it from the bytes
// they write (image/manifest.h has the rest).
struct FileDigest {
  std::string name;
  uint64_t size = 0;
  std::string sha256;
};

// An image set that cannot be trusted: an image corrupted, truncated, of
// another set, or files that do not match the manifest (--json's class
// "images").
class BadImages : public Error {
 public:
  using Error::Error;
};

class CorruptedImage : public BadImages {
 public:
  CorruptedImage(const std::string& file, const std::string& reason)
      : BadImages("corrupted image " + file + ": " + reason) {}
};

// An images directory, held open by fd so that every image is opened
// relative to it.
class ImageDir {
 public:
  // Opens an existing directory; throws if it does not exist.  If it has an
  // inventory with a readable header, readers refuse any image of another
  // set, and writers add to that set.
  static ImageDir open(const std::string& path);
  // Creates the directory (mode 0700) if needed and opens it for a new
  // image set: a fresh set id that every image written into it carries.
  static ImageDir create(const std::string& path);

  // The inventory's set id, which every image read must carry.
  const std::optional<SetId>& inventory_set_id() const { return inventory_set_; }
  // The set id images written now carry (drawn on first use if none).
  const SetId& write_set_id() const;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  bool exists(Kind kind, std::optional<uint64_t> id = std::nullopt) const;
  // The size of an image that must be a regular file: nullopt if there is
  // none; throws naming the file if it is a symlink, a FIFO, a device...
  std::optional<uint64_t> regular_size(Kind kind, std::optional<uint64_t> id = std::nullopt) const;
  // The names of every file in the directory that is named as an image
  // ("core-12.img"), sorted.
  std::vector<std::string> image_names() const;
  // The ids of the images of a per-id kind in the directory, ascending
  // ("shmem-1.img", "shmem-3.img" -> 1, 3).
  std::vector<uint64_t> ids(Kind kind) const;
  // "DIR/core-12.img", for messages.
  std::string path_of(Kind kind, std::optional<uint64_t> id = std::nullopt) const;
  // fsyncs the directory itself, making the renames of committed images
  // durable; call once after the last commit of a dump.
  void sync() const;
  // syncfs() of the directory's file system: every image written so far
  // reaches the disk in one call, rather than an fsync each.
  void sync_files() const;

 private:
  ImageDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
  std::optional<SetId> inventory_set_;
  mutable std::optional<SetId> write_set_;
};

// Writers keep using the ImageDir's fd until they commit or die, without
// owning it: the ImageDir must outlive them.

// How commit() makes the data durable: an fsync of its own, or already done
// for many files at once (flush() each, ImageDir::sync_files(), then
// commit(Sync::Done)).
enum class Sync { Now, Done };

class ImageWriter {
 public:
  ImageWriter(const ImageDir& dir, Kind kind, std::optional<uint64_t> id = std::nullopt);
  ~ImageWriter();  // unlinks the temporary file unless committed
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  void write(const google::protobuf::Message& record);
  void flush();   // every record written into the file
  void commit(Sync sync = Sync::Now);  // flush, fsync, rename into place
  // Flushes and finishes the file's digest, hashed as its bytes were
  // written: nothing can be written after it (commit() still can).
  FileDigest digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ImageReader {
 public:
  ImageReader(const ImageDir& dir, Kind kind, std::optional<uint64_t> id = std::nullopt);
  // Opens any image file by path (for `ckpt show`); the kind comes from the
  // file's name and is checked against its magic.
  explicit ImageReader(const std::string& path);
  ~ImageReader();
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  Kind kind() const;
  const std::string& name() const;  // for error messages
  uint32_t version() const;         // the format version in the header
  const SetId& set_id() const;      // the set id in the header
  // Reads the next record into `record`; false at a clean end of file.
  // Throws CorruptedImage on a short or malformed record.
  bool read(google::protobuf::Message& record);
  // Reads exactly one record; throws CorruptedImage if there is none.
  void read_one(google::protobuf::Message& record);
  // Reads the one record of an image that holds one (inventory, core, fs):
  // throws CorruptedImage if there is none or anything follows it.
  void read_only(google::protobuf::Message& record);
  // Throws CorruptedImage unless every byte has been read.
  void expect_end();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A raw page-data file: callers splice/write into fd() directly, then commit.
class PagesWriter {
 public:
  PagesWriter(const ImageDir& dir, uint64_t id);
  // Another raw kind (ShmemPages).
  PagesWriter(const ImageDir& dir, Kind kind, uint64_t id);
  ~PagesWriter();
  PagesWriter(const PagesWriter&) = delete;
  PagesWriter& operator=(const PagesWriter&) = delete;
  int fd() const;
  // Appends bytes at the current offset (for callers without a pipe to
  // splice from, and tests).
  void write(const void* data, size_t size);
  // Checks the size is a whole number of pages, then fsync and rename.
  void commit(Sync sync = Sync::Now);
  // The file's digest, finished: nothing can be written after it.  Bytes
  // given to write() are hashed on their way; bytes spliced into fd() never
  // pass through ckpt, so they are read back (from the page cache, where
  // they were just written) when write() or digest() finds the file longer
  // than what was hashed.
  FileDigest digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens a pages file for reading; `direct` asks for O_DIRECT and falls back
// to buffered I/O when the file system refuses it.  Returns the fd and
// whether O_DIRECT was granted.
struct PagesFile {
  UniqueFd fd;
  bool direct;
  uint64_t size;
};
PagesFile open_pages(const ImageDir& dir, uint64_t id, bool direct);
// The same for any raw kind (ShmemPages).
PagesFile open_raw(const ImageDir& dir, Kind kind, uint64_t id, bool direct);

}  // namespace ckpt::image
