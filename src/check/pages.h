// Small memory helpers shared by the memory probes: an owned anonymous
// mapping and a PAGEMAP_SCAN wrapper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "check/uapi_compat.h"
#include "ckpt/unique_fd.h"

namespace ckpt::check {

size_t page_size();

// Private anonymous pages, unmapped on destruction; never backed by huge
// pages so that per-page results are exact.
class Mapping {
 public:
  explicit Mapping(size_t pages);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* page(size_t i) const { return base_ + i * page_size(); }
  uintptr_t addr(size_t i = 0) const { return reinterpret_cast<uintptr_t>(page(i)); }
  size_t size() const { return size_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

UniqueFd open_pagemap(const char* path = "/proc/self/pagemap", int flags = 0);

struct ScanRequest {
  uint64_t flags = 0;  // PM_SCAN_*
  uint64_t category_mask = 0;
  uint64_t return_mask = 0;
};

// Runs PAGEMAP_SCAN over the whole mapping; throws with the errno on failure.
std::vector<page_region> pagemap_scan(int pagemap_fd, const Mapping& m, const ScanRequest& req);

}  // namespace ckpt::check
