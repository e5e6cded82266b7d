// Deleted regular files still open: the content goes into a ghost image
// (ghost-ID.img, one per file of the tree, up to dump --ghost-limit); restore
// recreates the file where it was, every fd and mapping of it opens it, and
// the name goes again, so the fd's link reads "PATH (deleted)".  A deleted
// directory an fd holds is a ghost too, without content.  A deleted file that
// still has other names is refused unless dump --link-remap, which links it
// back instead of copying it (dump/link_remap.h); the fd names its ghost
// either way, and restore opens it from ckpt's fd either way.
#include <fcntl.h>
#include <unistd.h>

#include "ckpt/error.h"
#include "files/identity.h"
#include "files/module.h"
#include "files/objects.h"

namespace ckpt::files {

namespace {

constexpr uint32_t kOpenTimeFlags = O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY;
constexpr std::string_view kDeleted = " (deleted)";

// memfds are deleted files too, and are claimed first.
bool claims(const OpenFd& fd) { return (S_ISREG(fd.st.st_mode) || S_ISDIR(fd.st.st_mode)) && is_deleted(fd); }

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  const DumpFdOptions& opts = ctx.opts;
  std::string path = fd.link.substr(0, fd.link.size() - kDeleted.size());
  if (!opts.objects) throw Error(path + " was deleted; deleted files are not supported here");
  if (path.empty() || path[0] != '/') throw Error("its deleted file has no path (" + fd.link + ")");
  img::RegFileEntry* reg = entry.mutable_reg();
  *reg->mutable_identity() = make_identity(path, fd.st);
  reg->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  reg->set_pos(fd.info.pos);
  reg->set_mode(fd.st.st_mode);
  reg->set_ghost_id(opts.objects->ghost(fd));
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_reg() || !entry.reg().has_ghost_id()) throw Error("its file entry names no ghost file");
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  const img::RegFileEntry& reg = entry.reg();
  const RestoreObjects* objects = target.opts.objects;
  int object = -1;
  if (objects)
    if (auto it = objects->ghost.find(reg.ghost_id()); it != objects->ghost.end()) object = it->second;
  if (object < 0)
    throw Error(format("its deleted file %s (ghost %u) was not restored", reg.identity().path().c_str(),
                       reg.ghost_id()));
  UniqueFd fd = reopen_fd(object, int(reg.flags() & ~kOpenTimeFlags),
                          "the deleted file " + reg.identity().path());
  if (lseek(fd.get(), off_t(reg.pos()), SEEK_SET) < 0)
    throw sys_error(format("cannot seek %s to %llu", reg.identity().path().c_str(), (unsigned long long)reg.pos()));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_reg()) return "?";
  return format("%s (deleted; ghost %u, flags 0%o, pos %llu)", entry.reg().identity().path().c_str(),
                entry.reg().ghost_id(), entry.reg().flags(), (unsigned long long)entry.reg().pos());
}

}  // namespace

const FileModule kGhostFileModule = {
    .kind = img::FILE_GHOST,
    .name = "deleted file",
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
