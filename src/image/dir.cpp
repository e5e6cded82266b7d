// The images directory and the raw pages files in it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include <sys/random.h>

#include <cstdio>

#include "image/image.h"
#include "image/open_image.h"

namespace ckpt::image {

std::string set_id_text(const SetId& id) {
  std::string out;
  char hex[3];
  for (uint8_t b : id) {
    std::snprintf(hex, sizeof(hex), "%02x", b);
    out += hex;
  }
  return out;
}

namespace {

SetId fresh_set_id() {
  SetId id;
  if (getrandom(id.data(), id.size(), 0) != ssize_t(id.size())) throw sys_error("cannot draw an image set id");
  return id;
}

}  // namespace

ImageDir ImageDir::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot open images directory " + path);
  ImageDir dir(path, std::move(fd));
  // A missing or broken inventory is reported by whoever reads it.
  try {
    if (dir.regular_size(Kind::Inventory)) dir.inventory_set_ = ImageReader(dir, Kind::Inventory).set_id();
  } catch (const Error&) {
  }
  dir.write_set_ = dir.inventory_set_;
  return dir;
}

ImageDir ImageDir::create(const std::string& path) {
  if (mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) throw sys_error("cannot create images directory " + path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot open images directory " + path);
  ImageDir dir(path, std::move(fd));
  dir.write_set_ = fresh_set_id();
  return dir;
}

const SetId& ImageDir::write_set_id() const {
  if (!write_set_) write_set_ = fresh_set_id();
  return *write_set_;
}

std::string ImageDir::path_of(Kind kind, std::optional<uint64_t> id) const {
  std::string name = filename(kind, id);
  if (path_.empty()) return name;
  return path_.back() == '/' ? path_ + name : path_ + "/" + name;
}

bool ImageDir::exists(Kind kind, std::optional<uint64_t> id) const {
  struct stat st;
  if (fstatat(fd_.get(), filename(kind, id).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
  if (errno == ENOENT) return false;
  throw sys_error("cannot stat image " + path_of(kind, id));
}

std::optional<uint64_t> ImageDir::regular_size(Kind kind, std::optional<uint64_t> id) const {
  struct stat st;
  if (fstatat(fd_.get(), filename(kind, id).c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw sys_error("cannot stat image " + path_of(kind, id));
  }
  if (!S_ISREG(st.st_mode))
    throw Error("cannot read image " + path_of(kind, id) + ": it is " + file_type_name(st.st_mode) +
                ", not a regular file");
  return uint64_t(st.st_size);
}

std::vector<std::string> ImageDir::image_names() const {
  int fd = fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw sys_error("cannot list images directory " + path_);
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    throw sys_error("cannot list images directory " + path_);
  }
  rewinddir(d);
  std::vector<std::string> out;
  while (dirent* e = readdir(d))
    if (parse_filename(e->d_name)) out.push_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void ImageDir::sync() const {
  if (fsync(fd_.get()) < 0) throw sys_error("cannot sync images directory " + path_);
}

void ImageDir::sync_files() const {
  if (syncfs(fd_.get()) < 0) throw sys_error("cannot sync the images in " + path_);
}

std::vector<uint64_t> ImageDir::ids(Kind kind) const {
  std::vector<uint64_t> out;
  for (const std::string& name : image_names()) {
    auto parsed = parse_filename(name);
    if (parsed && parsed->kind == kind && parsed->id) out.push_back(*parsed->id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

PagesFile open_pages(const ImageDir& dir, uint64_t id, bool direct) { return open_raw(dir, Kind::Pages, id, direct); }

PagesFile open_raw(const ImageDir& dir, Kind kind, uint64_t id, bool direct) {
  if (info(kind).prototype) throw Error("cannot open image " + dir.path_of(kind, id) + " raw: it has records");
  std::string name = filename(kind, id);
  std::string path = dir.path_of(kind, id);
  struct stat st;
  UniqueFd fd = detail::open_image_file(dir.fd(), name, path, info(kind).max_size, st, &direct);
  long page = sysconf(_SC_PAGESIZE);
  if (st.st_size % page != 0)
    throw CorruptedImage(dir.path_of(kind, id),
                         format("size %lld is not a multiple of the page size %ld", (long long)st.st_size, page));
  return PagesFile{std::move(fd), direct, uint64_t(st.st_size)};
}

}  // namespace ckpt::image
