// The restore side of files: every fd of a process opened again at its
// number, shared descriptions opened once.
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/files.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

struct ProcessFiles {
  std::vector<img::FdinfoEntry> fds;
  std::map<uint32_t, img::FileEntry> files;  // only the ones `fds` use
};

Error fd_error(int pid, int fd, const std::string& reason) {
  return Error(format("cannot restore fd %d of pid %d: %s", fd, pid, reason.c_str()));
}

// Reads fdinfo-<pid>.img and the entries of files.img it refers to, checking
// that every fd is listed once and every file id exists.
ProcessFiles read_process_files(const image::ImageDir& dir, int pid) {
  ProcessFiles pf;
  std::set<uint32_t> wanted, numbers;
  {
    image::ImageReader reader(dir, image::Kind::Fdinfo, uint64_t(pid));
    img::FdinfoEntry e;
    while (reader.read(e)) {
      if (!numbers.insert(e.fd()).second)
        throw image::CorruptedImage(reader.name(), format("fd %u is listed twice", e.fd()));
      if (e.fd() > uint32_t(INT32_MAX)) throw image::CorruptedImage(reader.name(), format("bad fd %u", e.fd()));
      wanted.insert(e.id());
      pf.fds.push_back(e);
    }
  }
  if (pf.fds.empty()) return pf;
  image::ImageReader reader(dir, image::Kind::Files);
  img::FileEntry f;
  while (reader.read(f))
    if (wanted.count(f.id())) pf.files[f.id()] = f;
  for (const img::FdinfoEntry& e : pf.fds)
    if (!pf.files.count(e.id()))
      throw image::CorruptedImage(reader.name(), format("no file %u for fd %u of pid %d", e.id(), e.fd(), pid));
  return pf;
}

// Moves an fd to a number at or above `floor`, so that placing the fds at
// their numbers cannot close a description not yet placed.
UniqueFd move_above(UniqueFd fd, int floor) {
  if (fd.get() >= floor) return fd;
  UniqueFd moved(fcntl(fd.get(), F_DUPFD_CLOEXEC, floor));
  if (!moved) throw sys_error(format("cannot move an fd above %d", floor));
  return moved;
}

}  // namespace

int max_fd(const image::ImageDir& dir, int pid) {
  int highest = -1;
  image::ImageReader reader(dir, image::Kind::Fdinfo, uint64_t(pid));
  img::FdinfoEntry e;
  while (reader.read(e)) highest = std::max(highest, int(e.fd()));
  return highest;
}

void check_files(const image::ImageDir& dir, int pid) {
  ProcessFiles pf = read_process_files(dir, pid);
  for (const img::FdinfoEntry& e : pf.fds) {
    const img::FileEntry& file = pf.files.at(e.id());
    try {
      module_of(file.kind()).check(file);
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
  }
}

void restore_fds(const image::ImageDir& dir, int pid, const RestoreFdOptions& opts) {
  ProcessFiles pf = read_process_files(dir, pid);
  if (pf.fds.empty()) return;
  int floor = 0;
  for (const img::FdinfoEntry& e : pf.fds) floor = std::max(floor, int(e.fd()) + 1);

  // Phase 1: open every description, above every number to be placed (the
  // caller's own fds 0-2 are still in place for the terminal module).
  std::map<uint32_t, UniqueFd> by_id;   // shared descriptions
  std::map<uint32_t, UniqueFd> by_fd;   // per-fd ones (terminals)
  for (const img::FdinfoEntry& e : pf.fds) {
    const img::FileEntry& file = pf.files.at(e.id());
    const FileModule& module = module_of(file.kind());
    if (!module.open_per_fd && by_id.count(e.id())) continue;
    RestoreTarget target{pid, int(e.fd()), opts};
    UniqueFd fd;
    try {
      fd = move_above(module.open(file, target), floor);
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
    LOG_DEBUG("pid %d fd %u: %s %s", pid, e.fd(), module.name, module.describe(file).c_str());
    (module.open_per_fd ? by_fd[e.fd()] : by_id[e.id()]) = std::move(fd);
  }

  // Phase 2: place each at its number.
  for (const img::FdinfoEntry& e : pf.fds) {
    auto it = by_fd.find(e.fd());
    int source = it != by_fd.end() ? it->second.get() : by_id.at(e.id()).get();
    if (dup3(source, int(e.fd()), e.cloexec() ? O_CLOEXEC : 0) < 0)
      throw fd_error(pid, int(e.fd()), std::string("dup3: ") + strerror(errno));
  }
  LOG_INFO("Restored %zu fds (%zu files) of pid %d", pf.fds.size(), pf.files.size(), pid);
}

}  // namespace ckpt::files
