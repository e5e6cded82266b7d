// Writers: records are gathered in a buffer and written in large chunks, so
// a dump of many small entries costs few system calls.  Each writer hashes
// its file for the manifest as it goes (image/sha256.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "image/image.h"
#include "image/sha256.h"
#include "image/tmp_file.h"

namespace ckpt::image {

namespace {
constexpr size_t kFlushThreshold = 256 << 10;
}

struct ImageWriter::Impl {
  const KindInfo& kind;
  detail::TmpFile file;
  std::string buffer;
  Sha256 hash;
  uint64_t size = 0;
  bool digested = false;

  Impl(const ImageDir& dir, Kind k, std::optional<uint64_t> id) : kind(info(k)), file(dir, k, id) {}

  void flush() {
    if (buffer.empty()) return;
    hash.update(buffer.data(), buffer.size());
    detail::write_all(file.fd(), buffer.data(), buffer.size(), file.name());
    size += buffer.size();
    buffer.clear();
  }

  void check_writable() const {
    file.check_open();
    if (digested) throw Error("cannot write image " + file.name() + ": its digest is already taken");
  }
};

ImageWriter::ImageWriter(const ImageDir& dir, Kind kind, std::optional<uint64_t> id) {
  if (!info(kind).prototype)
    throw Error("cannot write image " + dir.path_of(kind, id) + ": raw images are written with PagesWriter");
  impl_ = std::make_unique<Impl>(dir, kind, id);
  impl_->buffer.reserve(kFlushThreshold + 4096);
  char header[detail::kHeaderSize];
  std::copy(std::begin(detail::kSignature), std::end(detail::kSignature), header);
  detail::put_le32(header + 8, impl_->kind.magic);
  detail::put_le32(header + 12, kFormatVersion);
  const SetId& set = dir.write_set_id();
  std::copy(set.begin(), set.end(), header + detail::kSetIdOffset);
  impl_->buffer.append(header, sizeof(header));
}

ImageWriter::~ImageWriter() = default;

void ImageWriter::write(const google::protobuf::Message& record) {
  Impl& m = *impl_;
  m.check_writable();
  const google::protobuf::Descriptor* type = m.kind.prototype->GetDescriptor();
  const std::string& want = type->full_name();
  if (record.GetDescriptor() != type)
    throw Error("cannot write a " + record.GetDescriptor()->full_name() + " to image " + m.file.name() +
                ": it holds " + want);
  // Serializing would silently drop the check in release builds; a record
  // without its required fields could not be read back.
  if (!record.IsInitialized())
    throw Error("cannot write a " + want + " to image " + m.file.name() + ": missing required fields " +
                record.InitializationErrorString());
  size_t size = record.ByteSizeLong();
  if (size > kMaxRecordSize)
    throw Error(format("cannot write a %s to image %s: %zu bytes exceed the record limit of %u", want.c_str(),
                       m.file.name().c_str(), size, kMaxRecordSize));
  char length[detail::kLengthSize];
  detail::put_le32(length, uint32_t(size));
  m.buffer.append(length, sizeof(length));
  size_t at = m.buffer.size();
  m.buffer.resize(at + size);
  record.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(m.buffer.data() + at));
  if (m.buffer.size() >= kFlushThreshold) m.flush();
}

void ImageWriter::flush() {
  impl_->file.check_open();
  impl_->flush();
}

void ImageWriter::commit(Sync sync) {
  flush();
  impl_->file.commit(sync);
}

FileDigest ImageWriter::digest() {
  Impl& m = *impl_;
  m.check_writable();
  m.flush();
  m.digested = true;
  return FileDigest{m.file.final_name(), m.size, m.hash.hex()};
}

struct PagesWriter::Impl {
  detail::TmpFile file;
  Sha256 hash;
  uint64_t hashed = 0;  // the file's first `hashed` bytes are in `hash`
  bool digested = false;
  std::vector<char> buffer;

  Impl(const ImageDir& dir, Kind kind, uint64_t id) : file(dir, kind, id, /*readable=*/true) {}

  void check_writable() const {
    file.check_open();
    if (digested) throw Error("cannot write image " + file.name() + ": its digest is already taken");
  }

  // Hashes what was spliced in since the last hashed byte, up to `end`:
  // read back with pread, which the page cache answers (the pages were
  // written moments ago) and which leaves the file offset alone.
  void catch_up(uint64_t end) {
    if (end <= hashed) return;
    if (buffer.empty()) buffer.resize(kChunk);
    while (hashed < end) {
      size_t want = size_t(std::min<uint64_t>(kChunk, end - hashed));
      ssize_t n = pread(file.fd(), buffer.data(), want, off_t(hashed));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw sys_error("cannot read back image " + file.name() + " to hash it");
      if (n == 0) throw Error("cannot hash image " + file.name() + ": it ends before its size");
      hash.update(buffer.data(), size_t(n));
      hashed += uint64_t(n);
    }
  }

  uint64_t offset() const {
    off_t at = lseek(file.fd(), 0, SEEK_CUR);
    if (at < 0) throw sys_error("cannot hash image " + file.name());
    return uint64_t(at);
  }

  static constexpr size_t kChunk = 1 << 20;
};

PagesWriter::PagesWriter(const ImageDir& dir, uint64_t id) : PagesWriter(dir, Kind::Pages, id) {}

PagesWriter::PagesWriter(const ImageDir& dir, Kind kind, uint64_t id) {
  if (info(kind).prototype)
    throw Error("cannot write image " + dir.path_of(kind, id) + ": it is not a raw image");
  impl_ = std::make_unique<Impl>(dir, kind, id);
}
PagesWriter::~PagesWriter() = default;

int PagesWriter::fd() const { return impl_->file.fd(); }

void PagesWriter::write(const void* data, size_t size) {
  Impl& m = *impl_;
  m.check_writable();
  // Pages spliced in before these are hashed first: the hash follows the
  // file's order.
  m.catch_up(m.offset());
  m.hash.update(data, size);
  detail::write_all(m.file.fd(), data, size, m.file.name());
  m.hashed += size;
}

FileDigest PagesWriter::digest() {
  Impl& m = *impl_;
  m.check_writable();
  struct stat st;
  if (fstat(m.file.fd(), &st) < 0) throw sys_error("cannot stat image " + m.file.name());
  m.catch_up(uint64_t(st.st_size));
  m.digested = true;
  m.buffer = {};
  return FileDigest{m.file.final_name(), m.hashed, m.hash.hex()};
}

void PagesWriter::commit(Sync sync) {
  detail::TmpFile& file = impl_->file;
  file.check_open();
  struct stat st;
  if (fstat(file.fd(), &st) < 0) throw sys_error("cannot stat image " + file.name());
  long page = sysconf(_SC_PAGESIZE);
  if (st.st_size % page != 0)
    throw Error(format("cannot commit image %s: its size %lld is not a multiple of the page size %ld",
                       file.name().c_str(), (long long)st.st_size, page));
  file.commit(sync);
}

}  // namespace ckpt::image
