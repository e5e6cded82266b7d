// Probes of userfaultfd: plain missing-page handling (lazy restore) and the
// asynchronous write-protect mode that, with PAGEMAP_SCAN, tracks which pages
// a process writes (incremental dumps without soft-dirty bits).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "check/pages.h"
#include "check/probe.h"
#include "check/uapi_compat.h"
#include "ckpt/error.h"

namespace ckpt::check {
namespace {

struct Uffd {
  UniqueFd fd;
  const char* source;  // how it was obtained
  uint64_t features;   // as granted by UFFDIO_API
};

// The system call may be disabled for us (vm.unprivileged_userfaultfd,
// seccomp) while /dev/userfaultfd is allowed, so try both.
UniqueFd new_uffd(const char*& source) {
  UniqueFd fd(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (fd) {
    source = "the userfaultfd system call";
    return fd;
  }
  std::string syscall_error = strerror(errno);
  UniqueFd dev(open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
  if (dev) fd.reset(ioctl(dev.get(), USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK));
  if (!fd)
    throw Error(format("userfaultfd() failed (%s) and /dev/userfaultfd gave none (%s)",
                       syscall_error.c_str(), strerror(errno)));
  source = "/dev/userfaultfd";
  return fd;
}

Uffd open_uffd(uint64_t features) {
  Uffd u;
  u.fd = new_uffd(u.source);
  struct uffdio_api api = {UFFD_API, features, 0};
  if (ioctl(u.fd.get(), UFFDIO_API, &api) != 0) {
    if (errno == EINVAL && features)
      throw Error(format("UFFDIO_API refused the features 0x%llx",
                         static_cast<unsigned long long>(features)));
    throw sys_error("UFFDIO_API failed");
  }
  if ((api.features & features) != features)
    throw Error(format("UFFDIO_API granted features 0x%llx, not all of 0x%llx",
                       static_cast<unsigned long long>(api.features),
                       static_cast<unsigned long long>(features)));
  u.features = api.features;
  return u;
}

void register_range(const Uffd& u, const Mapping& m, uint64_t mode) {
  struct uffdio_register reg = {};
  reg.range.start = m.addr();
  reg.range.len = m.size();
  reg.mode = mode;
  if (ioctl(u.fd.get(), UFFDIO_REGISTER, &reg) != 0) throw sys_error("UFFDIO_REGISTER failed");
}

}  // namespace

std::string probe_uffd() {
  Uffd u = open_uffd(0);
  Mapping target(1);
  register_range(u, target, UFFDIO_REGISTER_MODE_MISSING);
  Mapping source(1);
  memset(source.page(0), 0x5a, page_size());
  struct uffdio_copy copy = {};
  copy.dst = target.addr();
  copy.src = source.addr();
  copy.len = page_size();
  if (ioctl(u.fd.get(), UFFDIO_COPY, &copy) != 0) throw sys_error("UFFDIO_COPY failed");
  if (copy.copy != static_cast<int64_t>(page_size()) ||
      memcmp(target.page(0), source.page(0), page_size()) != 0)
    throw Error("UFFDIO_COPY did not fill the registered page");
  return format("via %s", u.source);
}

std::string probe_uffd_wp_async() {
  Uffd u = open_uffd(UFFD_FEATURE_WP_ASYNC);
  Mapping m(4);
  for (size_t i = 0; i < 4; ++i) m.page(i)[0] = 1;
  register_range(u, m, UFFDIO_REGISTER_MODE_WP);
  UniqueFd pagemap = open_pagemap();
  // Write-protect everything, then write page 1: only it may be reported.
  pagemap_scan(pagemap.get(), m,
               {PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN});
  m.page(1)[0] = 2;
  auto written = pagemap_scan(pagemap.get(), m, {0, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN});
  if (written.size() != 1 || written[0].start != m.addr(1) || written[0].end != m.addr(2))
    throw Error(format("PAGEMAP_SCAN reported %zu written regions after one page of 4 was written",
                       written.size()));
  return format("via %s", u.source);
}

}  // namespace ckpt::check
