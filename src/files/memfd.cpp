// memfds: the fd is a description of its own on the tree's one shmem object
// of that memfd (shmem-ID.img: name, size, seals, content), which the
// memfd's mappings share.  Restore reopens the object ckpt created through
// /proc/self/fd, with the fd's flags and offset.
#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/module.h"
#include "files/objects.h"

namespace ckpt::files {

namespace {

constexpr uint32_t kOpenTimeFlags = O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY;

bool claims(const OpenFd& fd) { return S_ISREG(fd.st.st_mode) && fd.link.starts_with("/memfd:") && is_deleted(fd); }

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  const DumpFdOptions& opts = ctx.opts;
  if (!opts.objects) throw Error("memfd is not supported here");
  img::MemfdFileEntry* m = entry.mutable_memfd();
  m->set_shmem_id(opts.objects->memfd(fd));
  m->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  m->set_pos(fd.info.pos);
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_memfd()) throw Error("its file entry has no memfd");
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::MemfdFileEntry& m = entry.memfd();
  const RestoreObjects* objects = target.opts.objects;
  int object = -1;
  if (objects)
    if (auto it = objects->shmem.find(m.shmem_id()); it != objects->shmem.end()) object = it->second;
  if (object < 0)
    throw Error(format("its memfd (shared memory object %u) was not restored", m.shmem_id()));
  UniqueFd fd = reopen_fd(object, int(m.flags() & ~kOpenTimeFlags), format("memfd object %u", m.shmem_id()));
  if (lseek(fd.get(), off_t(m.pos()), SEEK_SET) < 0)
    throw sys_error(format("cannot seek memfd object %u to %llu", m.shmem_id(), (unsigned long long)m.pos()));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_memfd()) return "?";
  return format("shared memory object %u (flags 0%o, pos %llu)", entry.memfd().shmem_id(), entry.memfd().flags(),
                (unsigned long long)entry.memfd().pos());
}

}  // namespace

const FileModule kMemfdModule = {
    .kind = img::FILE_MEMFD,
    .name = "memfd",
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
