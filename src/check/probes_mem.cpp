// Probes of memory facilities: memfd_create, PAGEMAP_SCAN, soft-dirty bits,
// native AIO (the restorer reads pages with it) and PR_SET_MM_MAP.
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "check/pages.h"
#include "check/probe.h"
#include "check/mm_layout.h"
#include "ckpt/error.h"

namespace ckpt::check {
namespace {

// An AIO context, destroyed with its pending requests on scope exit.
class AioContext {
 public:
  explicit AioContext(unsigned events) {
    if (syscall(SYS_io_setup, events, &ctx_) != 0) throw sys_error("io_setup failed");
  }
  ~AioContext() { syscall(SYS_io_destroy, ctx_); }
  AioContext(const AioContext&) = delete;
  AioContext& operator=(const AioContext&) = delete;
  aio_context_t get() const { return ctx_; }

 private:
  aio_context_t ctx_ = 0;
};

}  // namespace

std::string probe_memfd_create() {
  UniqueFd fd(static_cast<int>(syscall(SYS_memfd_create, "ckpt-check", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!fd) throw sys_error("memfd_create failed");
  static const char text[] = "ckpt check memfd";
  if (pwrite(fd.get(), text, sizeof(text), 0) != static_cast<ssize_t>(sizeof(text)))
    throw sys_error("cannot write to a memfd");
  char back[sizeof(text)] = {};
  if (pread(fd.get(), back, sizeof(back), 0) != static_cast<ssize_t>(sizeof(back)) ||
      memcmp(text, back, sizeof(text)) != 0)
    throw Error("a memfd did not read back what was written to it");
  if (fcntl(fd.get(), F_GET_SEALS) < 0) throw sys_error("F_GET_SEALS on a memfd failed");
  return {};
}

std::string probe_pagemap_scan() {
  Mapping m(4);
  m.page(0)[0] = 1;
  m.page(2)[0] = 1;
  UniqueFd pagemap = open_pagemap();
  auto regions = pagemap_scan(pagemap.get(), m, {0, PAGE_IS_PRESENT, PAGE_IS_PRESENT});
  // Pages 0 and 2 were written, 1 and 3 never touched.
  bool exact = regions.size() == 2 && regions[0].start == m.addr(0) && regions[0].end == m.addr(1) &&
               regions[1].start == m.addr(2) && regions[1].end == m.addr(3);
  if (!exact)
    throw Error(format("PAGEMAP_SCAN reported %zu present regions where pages 0 and 2 of 4 are present",
                       regions.size()));
  return {};
}

std::string probe_soft_dirty() {
  Mapping m(1);
  m.page(0)[0] = 1;
  {
    UniqueFd clear(open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC));
    if (!clear) throw sys_error("cannot open /proc/self/clear_refs");
    if (write(clear.get(), "4", 1) != 1) throw sys_error("cannot write 4 to /proc/self/clear_refs");
  }
  m.page(0)[0] = 2;
  UniqueFd pagemap = open_pagemap();
  uint64_t entry = 0;
  off_t offset = static_cast<off_t>(m.addr() / page_size() * sizeof(entry));
  if (pread(pagemap.get(), &entry, sizeof(entry), offset) != sizeof(entry))
    throw sys_error("cannot read /proc/self/pagemap");
  if (!(entry & (1ULL << 55)))
    throw Error("pagemap bit 55 stays clear after a write (kernel built without CONFIG_MEM_SOFT_DIRTY)");
  return {};
}

std::string probe_aio() {
  // Our own executable: a regular file on a real filesystem, like an image.
  UniqueFd file(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!file) throw sys_error("cannot open /proc/self/exe");
  AioContext ctx(1);
  alignas(4096) static char buf[4096];
  struct iocb cb = {};
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  cb.aio_fildes = static_cast<uint32_t>(file.get());
  cb.aio_buf = reinterpret_cast<uintptr_t>(buf);
  cb.aio_nbytes = sizeof(buf);
  cb.aio_offset = 0;
  struct iocb* cbs[1] = {&cb};
  if (syscall(SYS_io_submit, ctx.get(), 1, cbs) != 1) throw sys_error("io_submit failed");
  struct io_event ev = {};
  struct timespec timeout = {1, 0};
  long n = syscall(SYS_io_getevents, ctx.get(), 1, 1, &ev, &timeout);
  if (n < 0) throw sys_error("io_getevents failed");
  if (n == 0) throw Error("io_getevents: the read did not complete within 1 s");
  if (ev.res < 4) throw Error(format("the AIO read returned %lld", static_cast<long long>(ev.res)));
  if (memcmp(buf, "\177ELF", 4) != 0) throw Error("the AIO read returned other bytes than the file holds");
  return {};
}

std::string probe_prctl_mm_map() {
  unsigned int size = 0;
  if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) != 0)
    throw sys_error("prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE) failed");
  if (size != sizeof(struct prctl_mm_map))
    throw Error(format("the kernel's prctl_mm_map is %u bytes, ckpt's is %zu", size,
                       sizeof(struct prctl_mm_map)));
  // Setting the layout to what it already is exercises the whole call
  // (validation, permission, auxv copy) and changes nothing; besides, this
  // runs in a throw-away process.
  MmLayout now = read_mm_layout();
  struct prctl_mm_map map = now.map;
  map.auxv = now.auxv.data();
  map.auxv_size = static_cast<uint32_t>(now.auxv.size() * sizeof(__u64));
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) != 0)
    throw sys_error("prctl(PR_SET_MM, PR_SET_MM_MAP) with the current layout failed");
  // Restore also sets /proc/PID/exe, which needs CAP_CHECKPOINT_RESTORE.
  // The kernel refuses (EBUSY) to replace an executable that is still
  // mapped, as ours is, but checks the capability first: EBUSY means allowed.
  UniqueFd exe(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) throw sys_error("cannot open /proc/self/exe");
  map.exe_fd = static_cast<__u32>(exe.get());
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) != 0 && errno != EBUSY)
    throw sys_error("prctl(PR_SET_MM, PR_SET_MM_MAP) setting the executable failed");
  return {};
}

}  // namespace ckpt::check
