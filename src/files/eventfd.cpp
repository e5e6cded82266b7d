// eventfd: a 64-bit counter, in counter or semaphore mode (fdinfo
// eventfd-count, eventfd-semaphore).  Restore makes a new one and writes
// the count back; its eventfd-id is the kernel's new number.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/anon_fdinfo.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

// The largest count an eventfd holds (a write of more blocks).
constexpr uint64_t kMaxCount = UINT64_MAX - 1;

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[eventfd]"; }

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  img::EventfdEntry* e = entry.mutable_eventfd();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  e->set_count(fdinfo_number(fdinfo_value(fd.info, "eventfd-count"), 16, "eventfd-count"));
  // Older kernels have no eventfd-semaphore line: their eventfds are taken
  // as counters.
  if (fdinfo_has(fd.info, "eventfd-semaphore"))
    e->set_semaphore(fdinfo_number(fdinfo_value(fd.info, "eventfd-semaphore"), 10, "eventfd-semaphore") != 0);
  if (fdinfo_has(fd.info, "eventfd-id"))
    e->set_dumped_id(uint32_t(fdinfo_number(fdinfo_value(fd.info, "eventfd-id"), 10, "eventfd-id")));
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_eventfd()) throw Error("its file entry has no eventfd");
  if (entry.eventfd().count() > kMaxCount)
    throw Error(format("its eventfd count %llu is more than an eventfd holds",
                       (unsigned long long)entry.eventfd().count()));
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::EventfdEntry& e = entry.eventfd();
  int flags = EFD_CLOEXEC | (e.semaphore() ? EFD_SEMAPHORE : 0) | (e.flags() & O_NONBLOCK ? EFD_NONBLOCK : 0);
  // eventfd() takes a 32-bit initial value: the count is written instead
  // (a write adds to the counter, from 0 it cannot block).
  UniqueFd fd(eventfd(0, flags));
  if (!fd) throw sys_error("eventfd");
  uint64_t count = e.count();
  if (count && write(fd.get(), &count, sizeof(count)) != ssize_t(sizeof(count)))
    throw sys_error(format("cannot write the count %llu to the new eventfd", (unsigned long long)count));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_eventfd()) return "?";
  const img::EventfdEntry& e = entry.eventfd();
  return format("eventfd count %llu%s (flags 0%o)", (unsigned long long)e.count(), e.semaphore() ? ", semaphore" : "",
                e.flags());
}

}  // namespace

const FileModule kEventfdModule = {
    .kind = img::FILE_EVENTFD,
    .name = "eventfd",
    .open_per_fd = false,
    .claims = claims,
    .blocker = nullptr,
    .dump = dump,
    .finish = nullptr,
    .check = check,
    .open = open_single<open_one>,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
