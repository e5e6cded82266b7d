#include "image/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "image/open_image.h"
#include "image/sha256.h"
#include "manifest.pb.h"

namespace ckpt::image {

namespace {

bool is_hex_digest(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

void write_manifest(const ImageDir& dir, std::vector<FileDigest> files) {
  std::sort(files.begin(), files.end(), [](const FileDigest& a, const FileDigest& b) { return a.name < b.name; });
  ImageWriter w(dir, Kind::Manifest);
  img::ManifestRecord record;
  record.mutable_head()->set_algorithm(kManifestAlgorithm);
  record.mutable_head()->set_files(uint32_t(files.size()));
  w.write(record);
  for (const FileDigest& f : files) {
    img::ManifestFile* file = record.mutable_file();
    file->set_name(f.name);
    file->set_size(f.size);
    file->set_sha256(f.sha256);
    w.write(record);
  }
  w.commit(Sync::Now);
}

std::vector<FileDigest> read_manifest(const ImageDir& dir) {
  ImageReader reader(dir, Kind::Manifest);
  const std::string& name = reader.name();
  img::ManifestRecord record;
  reader.read_one(record);
  if (!record.has_head()) throw CorruptedImage(name, "record 1 is not the head");
  if (record.head().algorithm() != kManifestAlgorithm)
    throw CorruptedImage(name, "unknown checksum algorithm '" + record.head().algorithm() + "' (this ckpt knows " +
                                   kManifestAlgorithm + ")");
  uint32_t count = record.head().files();
  std::vector<FileDigest> out;
  std::set<std::string> seen;
  while (reader.read(record)) {
    unsigned number = unsigned(out.size()) + 2;
    if (!record.has_file()) throw CorruptedImage(name, format("record %u is a second head", number));
    const img::ManifestFile& f = record.file();
    // Names are looked up in the directory: only an image file's name, so
    // that no entry can point elsewhere ("../x", "/etc/passwd").
    auto parsed = parse_filename(f.name());
    if (!parsed || f.name().find('/') != std::string::npos || parsed->kind == Kind::Manifest)
      throw CorruptedImage(name, format("record %u names '%s', which is not an image file", number, f.name().c_str()));
    if (!seen.insert(f.name()).second)
      throw CorruptedImage(name, format("record %u names %s a second time", number, f.name().c_str()));
    if (!is_hex_digest(f.sha256()))
      throw CorruptedImage(name, format("record %u: the SHA-256 of %s is not 64 hex digits", number, f.name().c_str()));
    out.push_back(FileDigest{f.name(), f.size(), f.sha256()});
  }
  if (out.size() != count)
    throw CorruptedImage(name, format("it lists %zu files, its head says %u", out.size(), count));
  std::sort(out.begin(), out.end(), [](const FileDigest& a, const FileDigest& b) { return a.name < b.name; });
  return out;
}

FileDigest digest_file(const ImageDir& dir, const std::string& name, uint64_t expected_size) {
  std::string path = dir.path().empty() ? name : dir.path() + (dir.path().back() == '/' ? "" : "/") + name;
  struct stat st;
  UniqueFd fd = detail::open_image_file(dir.fd(), name, path, ~0ull, st);
  // The whole file is read once, in order: tell the kernel to read ahead.
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  constexpr size_t kChunk = 1 << 20;
  std::vector<char> buffer(kChunk);
  Sha256 hash;
  uint64_t done = 0;
  // One byte past the expected size tells a file that grew meanwhile.
  while (done <= expected_size) {
    size_t want = size_t(std::min<uint64_t>(kChunk, expected_size + 1 - done));
    ssize_t n = ::read(fd.get(), buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("cannot read image " + path);
    if (n == 0) break;
    hash.update(buffer.data(), size_t(n));
    done += uint64_t(n);
  }
  return FileDigest{name, done, hash.hex()};
}

}  // namespace ckpt::image
