// The table of file kinds: a new kind is one new file and one line here.
#include "ckpt/error.h"
#include "files/module.h"

namespace ckpt::files {

const std::vector<const FileModule*>& modules() {
  // memfds and deleted files are regular files too: they come first.
  static const std::vector<const FileModule*> table = {
      &kMemfdModule,
      &kGhostFileModule,
      &kRegularFileModule,
      &kDirectoryModule,
      &kPtyModule,  // before the terminal module: it hands it the slaves of ptys made outside the tree
      &kTtyStdioModule,
      &kChrdevModule,
      &kPipeModule,
      &kFifoModule,
      &kInetSocketModule,
      &kNetlinkSocketModule,
      &kUnixSocketModule,
      // Anonymous inodes, told apart by their /proc link alone.
      &kEventfdModule,
      &kSignalfdModule,
      &kTimerfdModule,
      &kInotifyModule,
      &kFanotifyModule,
      &kPidfdModule,
      &kEpollModule,
      &kExternalModule,  // claims nothing: module_for() takes the fds --external names
  };
  return table;
}

const FileModule* claimant(const OpenFd& fd) {
  for (const FileModule* m : modules())
    if (m->claims(fd)) return m;
  return nullptr;
}

int OpenRequest::fd_of(uint32_t id) const {
  auto it = opened.find(id);
  if (it == opened.end()) throw Error(format("file %u it needs is not open", id));
  return it->second;
}

const FileModule& module_of(img::FileKind kind) {
  for (const FileModule* m : modules())
    if (m->kind == kind) return *m;
  throw Error(format("file kind %d is not known to this version of ckpt", int(kind)));
}

}  // namespace ckpt::files
