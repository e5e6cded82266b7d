// Readers load the whole image with one read (images other than pages are
// small) and check every byte they are given before trusting it: the file
// may be truncated, corrupted or not an image at all.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>

#include "image/image.h"
#include "image/open_image.h"
#include "image/tmp_file.h"

namespace ckpt::image {

namespace {

// `size` is what fstat said; a file growing while it is read is cut off at
// the kind's limit rather than followed.
std::string read_whole_file(int fd, const std::string& name, uint64_t size, uint64_t limit) {
  // One byte more than the size so the read that sees EOF is the second.
  std::string data(size_t(size) + 1, '\0');
  size_t len = 0;
  for (;;) {
    if (len == data.size()) {
      if (data.size() > limit)
        throw Error(format("cannot read image %s: it grew past the %s an image of its kind may be while it was read",
                           name.c_str(), detail::size_text(limit).c_str()));
      data.resize(std::min<uint64_t>(data.size() * 2, limit + 1));
    }
    ssize_t n = ::read(fd, data.data() + len, data.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("cannot read image " + name);
    if (n == 0) break;
    len += size_t(n);
  }
  data.resize(len);
  return data;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

struct ImageReader::Impl {
  Kind kind;
  std::string name;
  std::string data;
  size_t offset = 0;
  uint32_t version = 0;
  SetId set_id{};
  unsigned records = 0;    // records read so far
  std::string broken;      // the first corruption found, thrown again on later reads

  Impl(Kind k, std::string n, UniqueFd fd, uint64_t size, const std::optional<SetId>& expected)
      : kind(k), name(std::move(n)) {
    data = read_whole_file(fd.get(), name, size, info(kind).max_size);
    check_header(expected);
  }

  [[noreturn]] void corrupt(const std::string& reason) {
    broken = reason;
    throw CorruptedImage(name, reason);
  }

  void check_header(const std::optional<SetId>& expected) {
    const KindInfo& k = info(kind);
    if (data.empty()) corrupt("empty file, no header");
    if (data.size() < detail::kHeaderSize)
      corrupt(format("header is truncated: %zu of %zu bytes", data.size(), detail::kHeaderSize));
    if (memcmp(data.data(), detail::kSignature, sizeof(detail::kSignature)) != 0)
      corrupt("bad signature (not a ckpt image)");
    uint32_t magic = detail::get_le32(data.data() + 8);
    if (magic != k.magic) corrupt(format("bad magic 0x%08x (expected %s image)", magic, k.name));
    version = detail::get_le32(data.data() + 12);
    if (version != kFormatVersion)
      corrupt(format("unsupported format version %u (this ckpt reads %u)", version, kFormatVersion));
    std::memcpy(set_id.data(), data.data() + detail::kSetIdOffset, set_id.size());
    if (expected && set_id != *expected)
      corrupt("it belongs to another dump (image set " + set_id_text(set_id) + ", the inventory's is " +
              set_id_text(*expected) + ")");
    offset = detail::kHeaderSize;
  }

  bool read(google::protobuf::Message& record) {
    const google::protobuf::Message* prototype = info(kind).prototype;
    if (record.GetDescriptor() != prototype->GetDescriptor())
      throw Error("cannot read a " + record.GetDescriptor()->full_name() + " from image " + name + ": it holds " +
                  prototype->GetDescriptor()->full_name());
    if (!broken.empty()) throw CorruptedImage(name, broken);
    size_t left = data.size() - offset;
    if (left == 0) return false;
    unsigned number = ++records;
    if (left < detail::kLengthSize)
      corrupt(format("record %u is truncated: %zu of the %zu bytes of its length", number, left, detail::kLengthSize));
    uint32_t length = detail::get_le32(data.data() + offset);
    left -= detail::kLengthSize;
    if (length > kMaxRecordSize)
      corrupt(format("record %u is too large: length %u exceeds the limit of %u bytes", number, length, kMaxRecordSize));
    if (length > left) corrupt(format("record %u is truncated: length %u but %zu bytes left", number, length, left));
    const char* bytes = data.data() + offset + detail::kLengthSize;
    // The partial parse does not log; missing required fields are reported
    // here instead, with their names.
    if (!record.ParsePartialFromArray(bytes, int(length)))
      corrupt(format("record %u does not parse as %s", number, record.GetDescriptor()->full_name().c_str()));
    if (!record.IsInitialized())
      corrupt(format("record %u does not parse as %s: missing required fields %s", number,
                     record.GetDescriptor()->full_name().c_str(), record.InitializationErrorString().c_str()));
    offset += detail::kLengthSize + length;
    return true;
  }
};

ImageReader::ImageReader(const ImageDir& dir, Kind kind, std::optional<uint64_t> id) {
  std::string name = dir.path_of(kind, id);
  if (!info(kind).prototype) throw Error("cannot read image " + name + ": raw images have no records");
  struct stat st;
  UniqueFd fd = detail::open_image_file(dir.fd(), filename(kind, id), name, info(kind).max_size, st);
  impl_ = std::make_unique<Impl>(kind, std::move(name), std::move(fd), uint64_t(st.st_size), dir.inventory_set_id());
}

ImageReader::ImageReader(const std::string& path) {
  std::optional<Kind> kind = kind_of_filename(base_name(path));
  if (!kind) throw Error("cannot read " + path + ": not the name of an image file");
  if (!info(*kind).prototype) throw Error("cannot read image " + path + ": raw images have no records");
  struct stat st;
  UniqueFd fd = detail::open_image_file(AT_FDCWD, path, path, info(*kind).max_size, st);
  impl_ = std::make_unique<Impl>(*kind, path, std::move(fd), uint64_t(st.st_size), std::nullopt);
}

ImageReader::~ImageReader() = default;

Kind ImageReader::kind() const { return impl_->kind; }
const std::string& ImageReader::name() const { return impl_->name; }
uint32_t ImageReader::version() const { return impl_->version; }
const SetId& ImageReader::set_id() const { return impl_->set_id; }

bool ImageReader::read(google::protobuf::Message& record) { return impl_->read(record); }

void ImageReader::read_one(google::protobuf::Message& record) {
  if (!read(record))
    throw CorruptedImage(impl_->name, "no record where one " + record.GetDescriptor()->full_name() + " is expected");
}

void ImageReader::read_only(google::protobuf::Message& record) {
  read_one(record);
  expect_end();
}

void ImageReader::expect_end() {
  Impl& m = *impl_;
  if (!m.broken.empty()) throw CorruptedImage(m.name, m.broken);
  if (m.offset != m.data.size())
    m.corrupt(format("%zu bytes after record %u, where the image ends", m.data.size() - m.offset, m.records));
}

}  // namespace ckpt::image
