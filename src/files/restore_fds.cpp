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

// One past the highest fd number of the process.
int floor_of(const ProcessFiles& pf) {
  int floor = 0;
  for (const img::FdinfoEntry& e : pf.fds) floor = std::max(floor, int(e.fd()) + 1);
  return floor;
}

// Places the fds of `pf`: shared descriptions from `opened`, terminals from
// the caller's own stdio.  Everything is opened or moved above every target
// number first, so that no dup3 closes a source still to be used.
void install(const ProcessFiles& pf, int pid, const std::map<uint32_t, int>& opened, const RestoreFdOptions& opts) {
  int floor = floor_of(pf);
  std::map<uint32_t, int> source_of_id;
  std::map<uint32_t, UniqueFd> moved;   // shared descriptions `opened` had below the floor
  std::map<uint32_t, UniqueFd> by_fd;   // per-fd ones (terminals), by fd number
  for (const img::FdinfoEntry& e : pf.fds) {
    const img::FileEntry& file = pf.files.at(e.id());
    const FileModule& module = module_of(file.kind());
    try {
      if (module.open_per_fd) {
        by_fd[e.fd()] = move_above(module.open(file, RestoreTarget{pid, int(e.fd()), opts}), floor);
        LOG_DEBUG("pid %d fd %u: %s %s", pid, e.fd(), module.name, module.describe(file).c_str());
        continue;
      }
      if (source_of_id.count(e.id())) continue;
      auto it = opened.find(e.id());
      if (it == opened.end()) throw Error(format("its file %u was not opened", e.id()));
      int source = it->second;
      if (source < floor) {
        UniqueFd copy(fcntl(source, F_DUPFD_CLOEXEC, floor));
        if (!copy) throw sys_error(format("cannot move fd %d of its file %u above %d", source, e.id(), floor));
        source = copy.get();
        moved[e.id()] = std::move(copy);
      }
      source_of_id[e.id()] = source;
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
  }
  for (const img::FdinfoEntry& e : pf.fds) {
    auto it = by_fd.find(e.fd());
    int source = it != by_fd.end() ? it->second.get() : source_of_id.at(e.id());
    if (dup3(source, int(e.fd()), e.cloexec() ? O_CLOEXEC : 0) < 0)
      throw fd_error(pid, int(e.fd()), std::string("dup3: ") + strerror(errno));
  }
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

std::set<uint32_t> file_ids_of(const image::ImageDir& dir, int pid) {
  ProcessFiles pf = read_process_files(dir, pid);
  std::set<uint32_t> ids;
  for (const img::FdinfoEntry& e : pf.fds)
    if (!module_of(pf.files.at(e.id()).kind()).open_per_fd) ids.insert(e.id());
  return ids;
}

std::map<uint32_t, UniqueFd> open_files(const image::ImageDir& dir, const std::set<uint32_t>& ids,
                                        const RestoreFdOptions& opts, int floor) {
  std::map<uint32_t, UniqueFd> opened;
  if (ids.empty()) return opened;
  std::map<uint32_t, img::FileEntry> files;
  image::ImageReader reader(dir, image::Kind::Files);
  img::FileEntry f;
  while (reader.read(f))
    if (ids.count(f.id())) files[f.id()] = f;
  for (uint32_t id : ids) {
    auto it = files.find(id);
    if (it == files.end()) throw image::CorruptedImage(reader.name(), format("no file %u", id));
    const FileModule& module = module_of(it->second.kind());
    if (module.open_per_fd)
      throw Error(format("cannot restore file %u (%s) by itself: install_fds() makes each of its fds", id,
                         module.name));
    try {
      opened[id] = move_above(module.open(it->second, RestoreTarget{-1, -1, opts}), floor);
    } catch (const Error& err) {
      throw Error(format("cannot restore file %u (%s): %s", id, module.name, err.what()));
    }
    LOG_DEBUG("file %u at fd %d: %s %s", id, opened[id].get(), module.name, module.describe(it->second).c_str());
  }
  return opened;
}

void install_fds(const image::ImageDir& dir, int pid, const std::map<uint32_t, int>& opened,
                 const RestoreFdOptions& opts) {
  ProcessFiles pf = read_process_files(dir, pid);
  install(pf, pid, opened, opts);
  LOG_INFO("Installed %zu fds (%zu files) of pid %d", pf.fds.size(), pf.files.size(), pid);
}

void restore_fds(const image::ImageDir& dir, int pid, const RestoreFdOptions& opts) {
  ProcessFiles pf = read_process_files(dir, pid);
  if (pf.fds.empty()) return;
  int floor = floor_of(pf);
  // Each shared description opened once, above every number to be placed
  // (the caller's own fds 0-2 are still in place for the terminal module);
  // errors name the first fd that uses it.
  std::map<uint32_t, UniqueFd> by_id;
  std::map<uint32_t, int> opened;
  for (const img::FdinfoEntry& e : pf.fds) {
    const img::FileEntry& file = pf.files.at(e.id());
    const FileModule& module = module_of(file.kind());
    if (module.open_per_fd || by_id.count(e.id())) continue;
    try {
      by_id[e.id()] = move_above(module.open(file, RestoreTarget{pid, int(e.fd()), opts}), floor);
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
    LOG_DEBUG("pid %d fd %u: %s %s", pid, e.fd(), module.name, module.describe(file).c_str());
    opened[e.id()] = by_id[e.id()].get();
  }
  install(pf, pid, opened, opts);
  LOG_INFO("Restored %zu fds (%zu files) of pid %d", pf.fds.size(), pf.files.size(), pid);
}

}  // namespace ckpt::files
