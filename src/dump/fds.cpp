#include "dump/fds.h"

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/open_fd.h"

namespace ckpt::dump {

size_t dump_fds(DumpContext& ctx, compel::Infection& infection, pid_t pid, pid_t proc_id, const std::vector<int>& fds) {
  std::vector<img::FdinfoEntry> entries;
  if (!fds.empty()) {
    std::vector<int> stolen = infection.steal_fds(fds);
    // Own every stolen fd at once, so that none leaks if a later one fails.
    std::vector<UniqueFd> owned;
    for (int fd : stolen) owned.emplace_back(fd);
    if (owned.size() != fds.size())
      throw Error(format("cannot dump the fds of pid %d: the parasite returned %zu of %zu", pid, owned.size(),
                         fds.size()));
    std::vector<files::OpenFd> open_fds;
    for (size_t i = 0; i < fds.size(); ++i) open_fds.push_back(files::describe_fd(proc_id, fds[i], std::move(owned[i])));
    entries = ctx.files.add_process(pid, proc_id, open_fds, &infection);
  }
  image::ImageWriter& fdinfo = ctx.images.open(image::Kind::Fdinfo, uint64_t(pid));
  for (const img::FdinfoEntry& e : entries) fdinfo.write(e);
  LOG_INFO("pid %d: %zu fds", pid, entries.size());
  return entries.size();
}

}  // namespace ckpt::dump
