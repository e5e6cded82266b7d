#include "check/pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt/error.h"

namespace ckpt::check {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

Mapping::Mapping(size_t pages) : size_(pages * page_size()) {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw sys_error(format("cannot map %zu anonymous pages", pages));
  base_ = static_cast<uint8_t*>(p);
  madvise(base_, size_, MADV_NOHUGEPAGE);
}

Mapping::~Mapping() { munmap(base_, size_); }

UniqueFd open_pagemap(const char* path, int flags) {
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC | flags));
  if (!fd) throw sys_error(format("cannot open %s", path));
  return fd;
}

std::vector<page_region> pagemap_scan(int pagemap_fd, const Mapping& m, const ScanRequest& req) {
  std::vector<page_region> regions(m.size() / page_size());
  struct pm_scan_arg arg = {};
  arg.size = sizeof(arg);
  arg.flags = req.flags;
  arg.start = m.addr();
  arg.end = m.addr() + m.size();
  arg.vec = reinterpret_cast<uintptr_t>(regions.data());
  arg.vec_len = regions.size();
  arg.category_mask = req.category_mask;
  arg.return_mask = req.return_mask;
  int n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
  if (n < 0) {
    if (errno == ENOTTY) throw Error("the kernel has no PAGEMAP_SCAN ioctl (it needs Linux 6.7 or later)");
    throw sys_error("the PAGEMAP_SCAN ioctl failed");
  }
  regions.resize(static_cast<size_t>(n));
  return regions;
}

}  // namespace ckpt::check
