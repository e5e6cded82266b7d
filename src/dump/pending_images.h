// The images of a dump in progress.  Nothing is committed until every
// process of the tree has been dumped; a failure before that (in any
// process) drops every writer, each unlinking its temporary file, so the
// directory is as it was: no new image, and a complete dump already there
// stays complete.
//
// commit_all() then makes the new set complete in an order a crash cannot
// confuse: the ".tmp" files an interrupted dump left go first; every new file is synced under its .tmp name first (the old set
// is still whole until then); the old inventory.img goes next (durably), so that a mix of old
// and new images never passes for a complete dump (the old manifest goes
// with it); every image is committed in the order it was opened; images of
// an older dump that this one did not write (the core of a child that has
// since exited ...) are removed; then the inventory, and last the manifest
// (image/manifest.h) with the size and SHA-256 of every other file.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/image.h"

namespace ckpt::dump {

class PendingImages {
 public:
  explicit PendingImages(const image::ImageDir& dir) : dir_(dir) {}
  PendingImages(const PendingImages&) = delete;
  PendingImages& operator=(const PendingImages&) = delete;

  // A writer for one image, committed by commit_all().  Throws if this
  // dump already opened that image (two processes cannot share one).
  image::ImageWriter& open(image::Kind kind, std::optional<uint64_t> id = std::nullopt);
  image::PagesWriter& open_pages(uint64_t id);
  // Another raw image (ShmemPages), committed with the pages.
  image::PagesWriter& open_raw(image::Kind kind, uint64_t id);

  // Commits pages, then the other images in order, then `inventory`,
  // which must not have been opened through open(), then the manifest.
  void commit_all(image::ImageWriter& inventory);

  const image::ImageDir& dir() const { return dir_; }

 private:
  void claim(image::Kind kind, std::optional<uint64_t> id);
  void withdraw_old_inventory();
  void remove_stale_images();
  // Removes the "*.img.tmp" files an interrupted dump left in the directory.
  void remove_leftovers();
  std::vector<std::string> list() const;  // every name in the directory

  const image::ImageDir& dir_;
  std::set<std::string> names_;  // file names of every image opened
  std::vector<std::unique_ptr<image::ImageWriter>> writers_;
  std::vector<std::unique_ptr<image::PagesWriter>> pages_;
};

}  // namespace ckpt::dump
