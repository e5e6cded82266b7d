// Internal to the image layer: the file format's fixed parts and the
// temporary file every writer fills before renaming it into place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ckpt/unique_fd.h"
#include "image/image.h"

namespace ckpt::image::detail {

inline constexpr char kSignature[8] = {'C', 'K', 'P', 'T', 'I', 'M', 'G', '\0'};
inline constexpr size_t kHeaderSize = 32;  // signature, u32 magic, u32 version, set id
inline constexpr size_t kSetIdOffset = 16;
inline constexpr size_t kLengthSize = 4;   // u32 before each record

inline void put_le32(char* out, uint32_t v) {
  for (int i = 0; i < 4; i++) out[i] = char((v >> (8 * i)) & 0xff);
}

inline uint32_t get_le32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= uint32_t(uint8_t(in[i])) << (8 * i);
  return v;
}

// Writes all of `data`, retrying short writes and EINTR; throws naming `name`.
void write_all(int fd, const void* data, size_t size, const std::string& name);

// "<name>.tmp" in the images directory, created 0600; commit() makes it
// durable and renames it over <name>; otherwise the destructor unlinks it.
class TmpFile {
 public:
  // `readable`: opened O_RDWR, for a writer that reads back what others
  // wrote through fd() (pages spliced in), to hash it.
  TmpFile(const ImageDir& dir, Kind kind, std::optional<uint64_t> id, bool readable = false);
  ~TmpFile();
  TmpFile(const TmpFile&) = delete;
  TmpFile& operator=(const TmpFile&) = delete;

  int fd() const { return fd_.get(); }
  // The final path, "DIR/core-1.img", for messages.
  const std::string& name() const { return path_; }
  // The file name alone, "core-1.img" (the manifest's name for it).
  const std::string& final_name() const { return final_; }
  // Throws unless the file is still open for writing.
  void check_open() const;
  void commit(Sync sync);

 private:
  int dirfd_;
  std::string final_;  // "core-1.img"
  std::string tmp_;    // "core-1.img.tmp"
  std::string path_;   // "DIR/core-1.img"
  UniqueFd fd_;
  bool committed_ = false;
};

}  // namespace ckpt::image::detail
