#include "dump/pending_images.h"

#include "ckpt/log.h"

namespace ckpt::dump {

image::ImageWriter& PendingImages::open(image::Kind kind, std::optional<uint64_t> id) {
  LOG_DEBUG("Writing %s", dir_.path_of(kind, id).c_str());
  writers_.push_back(std::make_unique<image::ImageWriter>(dir_, kind, id));
  return *writers_.back();
}

image::PagesWriter& PendingImages::open_pages(uint64_t id) {
  LOG_DEBUG("Writing %s", dir_.path_of(image::Kind::Pages, id).c_str());
  pages_.push_back(std::make_unique<image::PagesWriter>(dir_, id));
  return *pages_.back();
}

void PendingImages::commit_all(image::ImageWriter& inventory) {
  for (auto& p : pages_) p->commit();
  for (auto& w : writers_) w->commit();
  inventory.commit();
  dir_.sync();
}

}  // namespace ckpt::dump
