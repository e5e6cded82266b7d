// Files outside the tree that the user names (CRIU's conventions): at dump
// `--external pipe:[1234]` saves whatever fd shows that link as external,
// without looking inside it; at restore `--inherit-fd fd[N]:pipe:[1234]`
// hands ckpt's fd N in its place, shared by every fd that had it.
#include <fcntl.h>

#include "ckpt/error.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

// Taken by module_for() for the links --external names, never by claims.
bool claims(const OpenFd&) { return false; }

void dump(const OpenFd& fd, DumpFdContext&, img::FileEntry& entry) {
  img::ExternalEntry* ext = entry.mutable_external();
  ext->set_key(fd.link);
  ext->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
}

void check(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  if (!entry.has_external()) throw Error("its file entry has no external name");
  const std::string& key = entry.external().key();
  if (!opts.inherited.count(key))
    throw Error(format("it is the external file %s: restore with --inherit-fd fd[N]:%s", key.c_str(), key.c_str()));
}

UniqueFd open_one(const img::FileEntry& entry, const RestoreTarget& target) {
  check(entry, target.opts);
  int given = target.opts.inherited.at(entry.external().key());
  UniqueFd fd(fcntl(given, F_DUPFD_CLOEXEC, 0));
  if (!fd) throw sys_error(format("cannot duplicate fd %d given for %s", given, entry.external().key().c_str()));
  return fd;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_external()) return "?";
  return format("external %s (flags 0%o)", entry.external().key().c_str(), entry.external().flags());
}

}  // namespace

const FileModule kExternalModule = {
    .kind = img::FILE_EXTERNAL,
    .name = "external file",
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
