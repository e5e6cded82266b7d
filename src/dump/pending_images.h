// The images of a dump in progress.  Nothing is committed until every
// process has been dumped; then everything is committed in the order it was
// opened and the inventory last, so that an image set without an inventory
// is an incomplete dump and a failed dump leaves no image behind.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "image/image.h"

namespace ckpt::dump {

class PendingImages {
 public:
  explicit PendingImages(const image::ImageDir& dir) : dir_(dir) {}
  PendingImages(const PendingImages&) = delete;
  PendingImages& operator=(const PendingImages&) = delete;

  // A writer for one image, committed by commit_all().
  image::ImageWriter& open(image::Kind kind, std::optional<uint64_t> id = std::nullopt);
  image::PagesWriter& open_pages(uint64_t id);

  // Commits pages, then the other images in order, then `inventory`,
  // which must not have been opened through open().
  void commit_all(image::ImageWriter& inventory);

  const image::ImageDir& dir() const { return dir_; }

 private:
  const image::ImageDir& dir_;
  std::vector<std::unique_ptr<image::ImageWriter>> writers_;
  std::vector<std::unique_ptr<image::PagesWriter>> pages_;
};

}  // namespace ckpt::dump
