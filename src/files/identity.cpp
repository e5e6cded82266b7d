#include "files/identity.h"

#include <sys/sysmacros.h>

#include "ckpt/error.h"

namespace ckpt::files {

img::FileIdentity make_identity(const std::string& path, const struct stat& st) {
  img::FileIdentity id;
  id.set_path(path);
  id.set_dev(st.st_dev);
  id.set_ino(st.st_ino);
  id.set_size(uint64_t(st.st_size));
  id.set_mtime_ns(int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  return id;
}

std::string dev_name(dev_t dev) { return format("%u:%u", major(dev), minor(dev)); }

std::string identity_mismatch(const img::FileIdentity& recorded, const struct stat& now) {
  if (recorded.dev() == now.st_dev && recorded.ino() == now.st_ino) return {};
  return format("it is no longer the file that was dumped (inode %llu on device %s, now inode %llu on %s)",
                (unsigned long long)recorded.ino(), dev_name(dev_t(recorded.dev())).c_str(),
                (unsigned long long)now.st_ino, dev_name(now.st_dev).c_str());
}

struct stat stat_same_file(const img::FileIdentity& recorded, const FsRoot& root) {
  std::string path = root.host(recorded.path());
  struct stat st;
  if (stat(path.c_str(), &st) < 0) throw sys_error(path);
  std::string why = identity_mismatch(recorded, st);
  if (!why.empty()) throw Error(path + ": " + why);
  return st;
}

}  // namespace ckpt::files
