#include "dump/pending_images.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "dump/kill_point.h"
#include "image/manifest.h"

namespace ckpt::dump {

void PendingImages::claim(image::Kind kind, std::optional<uint64_t> id) {
  if (!names_.insert(image::filename(kind, id)).second)
    throw Error("cannot write " + dir_.path_of(kind, id) + " twice in one dump");
  LOG_DEBUG("Writing %s", dir_.path_of(kind, id).c_str());
}

image::ImageWriter& PendingImages::open(image::Kind kind, std::optional<uint64_t> id) {
  claim(kind, id);
  writers_.push_back(std::make_unique<image::ImageWriter>(dir_, kind, id));
  return *writers_.back();
}

image::PagesWriter& PendingImages::open_pages(uint64_t id) { return open_raw(image::Kind::Pages, id); }

image::PagesWriter& PendingImages::open_raw(image::Kind kind, uint64_t id) {
  claim(kind, id);
  pages_.push_back(std::make_unique<image::PagesWriter>(dir_, kind, id));
  return *pages_.back();
}

// The manifest first: the old inventory without its manifest is already an
// incomplete set, whatever happens next.
void PendingImages::withdraw_old_inventory() {
  bool removed = false;
  for (image::Kind kind : {image::Kind::Manifest, image::Kind::Inventory}) {
    std::string name = image::filename(kind);
    if (unlinkat(dir_.fd(), name.c_str(), 0) == 0) removed = true;
    else if (errno != ENOENT) throw sys_error("cannot remove the previous " + dir_.path_of(kind));
  }
  if (removed) {
    LOG_INFO("Removed the inventory of the previous dump in %s", dir_.path().c_str());
    dir_.sync();
  }
}

// Only names of image files are touched; dump.log and anything else the
// user keeps there stays.
std::vector<std::string> PendingImages::list() const {
  int fd = fcntl(dir_.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw sys_error("cannot list " + dir_.path());
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    throw sys_error("cannot list " + dir_.path());
  }
  rewinddir(d);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.push_back(e->d_name);
  closedir(d);
  return names;
}

void PendingImages::remove_stale_images() {
  std::vector<std::string> stale;
  for (const std::string& name : list()) {
    auto parsed = image::parse_filename(name);
    if (parsed && parsed->kind != image::Kind::Inventory && parsed->kind != image::Kind::Manifest &&
        !names_.count(name))
      stale.push_back(name);
  }
  for (const std::string& name : stale) {
    if (unlinkat(dir_.fd(), name.c_str(), 0) < 0 && errno != ENOENT)
      throw sys_error("cannot remove " + dir_.path() + "/" + name + " of a previous dump");
    LOG_DEBUG("Removed %s/%s of a previous dump", dir_.path().c_str(), name.c_str());
  }
}

// Temporary files of an interrupted dump ("core-12.img.tmp"): only names
// the image layer makes, so nothing else the user keeps here is touched,
// and not this dump's own.  Done when committing, so that a refused or
// failed dump leaves the directory exactly as it found it.
void PendingImages::remove_leftovers() {
  const std::string suffix = ".tmp";
  const std::string inventory = image::filename(image::Kind::Inventory);
  for (const std::string& name : list()) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string image_name = name.substr(0, name.size() - suffix.size());
    if (!image::parse_filename(image_name) || names_.count(image_name) || image_name == inventory) continue;
    if (unlinkat(dir_.fd(), name.c_str(), 0) < 0 && errno != ENOENT)
      throw sys_error("cannot remove " + dir_.path() + "/" + name + " left by an interrupted dump");
    LOG_INFO("Removed %s/%s left by an interrupted dump", dir_.path().c_str(), name.c_str());
  }
}

// One syncfs for every file of the dump (a process with many threads has a
// core image per thread, and an fsync each costs a disk flush each), then
// the renames, the inventory last.  Until the old inventory goes, the
// previous set is whole and restorable (the new files are all under .tmp
// names); from then until the new manifest is renamed into place, the
// directory has no manifest (and for most of that time no inventory) and
// restore refuses it as incomplete.  The manifest is the last file made:
// the digest of every other, taken before anything is renamed (records were
// hashed as they were written; pages spliced into their files are read
// back from the page cache here).
void PendingImages::commit_all(image::ImageWriter& inventory) {
  remove_leftovers();
  timespec hashing;
  clock_gettime(CLOCK_MONOTONIC, &hashing);
  std::vector<image::FileDigest> digests;
  uint64_t bytes = 0;
  for (auto& p : pages_) digests.push_back(p->digest());
  for (auto& w : writers_) digests.push_back(w->digest());
  digests.push_back(inventory.digest());
  for (const image::FileDigest& d : digests) bytes += d.size;
  timespec hashed;
  clock_gettime(CLOCK_MONOTONIC, &hashed);
  LOG_INFO("Hashed %zu images (%.1f MiB) for the manifest in %.0f ms", digests.size(), double(bytes) / (1 << 20),
           double(hashed.tv_sec - hashing.tv_sec) * 1e3 + double(hashed.tv_nsec - hashing.tv_nsec) / 1e6);
  dir_.sync_files();
  kill_point(KillPoint::BeforeCommit);
  withdraw_old_inventory();
  for (auto& p : pages_) p->commit(image::Sync::Done);
  kill_point(KillPoint::InCommit);
  for (auto& w : writers_) w->commit(image::Sync::Done);
  remove_stale_images();
  inventory.commit(image::Sync::Done);
  image::write_manifest(dir_, std::move(digests));
  dir_.sync();
}

}  // namespace ckpt::dump
