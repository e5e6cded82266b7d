// The restore side of files: every fd of a process opened again at its
// number, shared descriptions opened once, groups together, needed files
// first.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/file_locks.h"
#include "files/files.h"
#include "files/module.h"

namespace ckpt::files {

namespace {

Error fd_error(int pid, int fd, const std::string& reason) {
  return Error(format("cannot restore fd %d of pid %d: %s", fd, pid, reason.c_str()));
}

// Moves an fd to a number at or above `floor`, so that placing the fds at
// their numbers cannot close a description not yet placed.
UniqueFd move_above(UniqueFd fd, int floor) {
  if (fd.get() >= floor) return fd;
  UniqueFd moved(fcntl(fd.get(), F_DUPFD_CLOEXEC, floor));
  if (!moved) throw sys_error(format("cannot move an fd above %d", floor));
  return moved;
}

// Puts a just opened description of `id` where `room` says: at its own
// number if it has one there and it is free, else above the floor and
// below the ceiling (the helper fds live above it).
UniqueFd place(UniqueFd fd, uint32_t id, const FdRoom& room) {
  if (room.at) {
    auto it = room.at->find(id);
    if (it != room.at->end()) {
      int number = it->second;
      if (fd.get() == number) return fd;
      if (fcntl(number, F_GETFD) < 0 && errno == EBADF) {
        if (dup3(fd.get(), number, O_CLOEXEC) < 0) throw sys_error(format("cannot move an fd to %d", number));
        return UniqueFd(number);
      }
    }
  }
  UniqueFd placed = move_above(std::move(fd), room.floor);
  if (placed.get() >= room.ceiling)
    throw Error(format("no fd number is left for it below %d (the helper fds sit above)", room.ceiling));
  return placed;
}

// One past the highest fd number of the process.
int floor_of(const std::vector<img::FdinfoEntry>& fds) {
  int floor = 0;
  for (const img::FdinfoEntry& e : fds) floor = std::max(floor, int(e.fd()) + 1);
  return floor;
}

// The groups of `ids`, each after every group it needs (depth first).
// Throws for a cycle of needs, which no dump writes.
std::vector<uint32_t> groups_in_order(const FilesImage& image, const std::set<uint32_t>& ids) {
  std::set<uint32_t> wanted;
  for (uint32_t id : ids) wanted.insert(image.group_id(id));
  std::vector<uint32_t> order;
  std::map<uint32_t, int> state;  // 1: being visited, 2: done
  std::function<void(uint32_t)> visit = [&](uint32_t group) {
    int& st = state[group];
    if (st == 2) return;
    if (st == 1) throw Error(format("file %u needs itself (through the files it needs)", group));
    st = 1;
    for (uint32_t member : image.group_of(group))
      for (uint32_t need : image.file(member).needs()) {
        uint32_t g = image.group_id(need);
        if (wanted.count(g)) visit(g);
      }
    state[group] = 2;
    order.push_back(group);
  };
  for (uint32_t g : wanted) visit(g);
  return order;
}

// Whether `number` is one of the fds of `pid` that use file `id`.
bool has_number(const std::vector<img::FdinfoEntry>& fds, uint32_t id, int number) {
  auto it = std::lower_bound(fds.begin(), fds.end(), number,
                             [](const img::FdinfoEntry& e, int n) { return int(e.fd()) < n; });
  return it != fds.end() && int(it->fd()) == number && it->id() == id;
}

// Places the fds of `pid`: shared descriptions from `opened`, terminals from
// the caller's own stdio.  Everything is opened or moved above every target
// number first, so that no dup3 closes a source still to be used.
void install(const FilesImage& image, int pid, const std::map<uint32_t, int>& opened, const RestoreFdOptions& opts) {
  const std::vector<img::FdinfoEntry>& fds = image.fds_of(pid);
  int floor = floor_of(fds);
  std::map<uint32_t, int> source_of_id;
  std::map<uint32_t, UniqueFd> moved;   // shared descriptions `opened` had below the floor
  std::map<uint32_t, UniqueFd> by_fd;   // per-fd ones (terminals), by fd number
  for (const img::FdinfoEntry& e : fds) {
    const img::FileEntry& file = image.file(e.id());
    const FileModule& module = module_of(file.kind());
    try {
      if (module.open_per_fd) {
        OpenRequest req{{&file}, opened, RestoreTarget{pid, int(e.fd()), opts}};
        std::vector<UniqueFd> one = module.open(req);
        by_fd[e.fd()] = move_above(std::move(one.at(0)), floor);
        LOG_DEBUG("pid %d fd %u: %s %s", pid, e.fd(), module.name, module.describe(file).c_str());
        continue;
      }
      if (source_of_id.count(e.id())) continue;
      auto it = opened.find(e.id());
      if (it == opened.end()) throw Error(format("its file %u was not opened", e.id()));
      int source = it->second;
      if (source < floor && !has_number(fds, e.id(), source)) {
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
  for (const img::FdinfoEntry& e : fds) {
    auto it = by_fd.find(e.fd());
    int source = it != by_fd.end() ? it->second.get() : source_of_id.at(e.id());
    int placed = source == int(e.fd()) ? fcntl(source, F_SETFD, e.cloexec() ? FD_CLOEXEC : 0)
                                       : dup3(source, int(e.fd()), e.cloexec() ? O_CLOEXEC : 0);
    if (placed < 0) throw fd_error(pid, int(e.fd()), std::string("dup3: ") + strerror(errno));
  }
  for (const img::FdinfoEntry& e : fds) {
    const img::FileEntry& file = image.file(e.id());
    const FileModule& module = module_of(file.kind());
    if (!module.installed) continue;
    try {
      module.installed(file, int(e.fd()), RestoreTarget{pid, int(e.fd()), opts});
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
  }
}

}  // namespace

// ---- FilesImage -------------------------------------------------------------

FilesImage FilesImage::read(const image::ImageDir& dir, const std::vector<int>& pids) {
  FilesImage out;
  bool any = false;
  for (int pid : pids) {
    image::ImageReader reader(dir, image::Kind::Fdinfo, uint64_t(pid));
    std::vector<img::FdinfoEntry>& fds = out.fds[pid];
    std::set<uint32_t> numbers;
    img::FdinfoEntry e;
    while (reader.read(e)) {
      if (e.fd() > uint32_t(INT32_MAX)) throw image::CorruptedImage(reader.name(), format("bad fd %u", e.fd()));
      if (!numbers.insert(e.fd()).second)
        throw image::CorruptedImage(reader.name(), format("fd %u is listed twice", e.fd()));
      fds.push_back(e);
    }
    std::sort(fds.begin(), fds.end(), [](const auto& a, const auto& b) { return a.fd() < b.fd(); });
    any = any || !fds.empty();
  }
  if (!any) return out;
  image::ImageReader reader(dir, image::Kind::Files);
  img::FileEntry f;
  while (reader.read(f)) {
    uint32_t id = f.id();
    if (id == 0) throw image::CorruptedImage(reader.name(), "a file has id 0");
    if (!out.files.emplace(id, std::move(f)).second)
      throw image::CorruptedImage(reader.name(), format("file %u is listed twice", id));
    f.Clear();
  }
  for (const auto& [pid, fds] : out.fds)
    for (const img::FdinfoEntry& e : fds)
      if (!out.files.count(e.id()))
        throw image::CorruptedImage(reader.name(), format("no file %u for fd %u of pid %d", e.id(), e.fd(), pid));
  out.index(reader.name());
  return out;
}

void FilesImage::index(const std::string& origin) {
  groups_.clear();
  for (const auto& [id, f] : files) {
    uint32_t g = f.has_group() ? f.group() : id;
    auto it = files.find(g);
    if (it == files.end() || (it->second.has_group() ? it->second.group() : g) != g)
      throw image::CorruptedImage(origin, format("file %u is in group %u, which is not a group", id, g));
    if (files.at(g).kind() != f.kind())
      throw image::CorruptedImage(origin, format("file %u is in group %u, of another kind", id, g));
    groups_[g].push_back(id);
    for (uint32_t need : f.needs())
      if (!files.count(need)) throw image::CorruptedImage(origin, format("file %u needs file %u, which is not there", id, need));
  }
}

const img::FileEntry& FilesImage::file(uint32_t id) const {
  auto it = files.find(id);
  if (it == files.end()) throw Error(format("the images have no file %u", id));
  return it->second;
}

const std::vector<img::FdinfoEntry>& FilesImage::fds_of(int pid) const {
  static const std::vector<img::FdinfoEntry> none;
  auto it = fds.find(pid);
  return it == fds.end() ? none : it->second;
}

uint32_t FilesImage::group_id(uint32_t id) const {
  const img::FileEntry& f = file(id);
  return f.has_group() ? f.group() : id;
}

std::vector<uint32_t> FilesImage::group_of(uint32_t id) const {
  auto it = groups_.find(group_id(id));
  if (it == groups_.end()) return {id};
  return it->second;
}

// ---- the steps ----------------------------------------------------------------

int max_fd(const FilesImage& image, int pid) {
  const auto& fds = image.fds_of(pid);
  return fds.empty() ? -1 : int(fds.back().fd());
}

void check_files(const FilesImage& image, int pid, const RestoreFdOptions& opts, std::vector<Blocker>* out) {
  std::set<uint32_t> checked;  // each file once, however many fds and groups bring it
  for (const img::FdinfoEntry& e : image.fds_of(pid)) {
    if (checked.count(e.id())) continue;
    try {
      for (uint32_t id : with_groups_and_needs(image, {e.id()})) {
        if (!checked.insert(id).second) continue;
        const img::FileEntry& file = image.file(id);
        module_of(file.kind()).check(file, opts);
        check_file_locks(file, opts);  // locks need --file-locks
      }
    } catch (const image::BadImages&) {
      throw;
    } catch (const Error& err) {
      if (!out) throw fd_error(pid, int(e.fd()), err.what());
      out->push_back({.pid = pid, .fd = int(e.fd()), .reason = err.what(),
                      .kind = module_of(image.file(e.id()).kind()).name});
    }
  }
}

std::set<uint32_t> file_ids_of(const FilesImage& image, int pid) {
  std::set<uint32_t> ids;
  for (const img::FdinfoEntry& e : image.fds_of(pid))
    if (!module_of(image.file(e.id()).kind()).open_per_fd) ids.insert(e.id());
  return ids;
}

std::set<uint32_t> with_groups_and_needs(const FilesImage& image, const std::set<uint32_t>& ids) {
  std::set<uint32_t> out;
  std::vector<uint32_t> todo(ids.begin(), ids.end());
  while (!todo.empty()) {
    uint32_t id = todo.back();
    todo.pop_back();
    for (uint32_t member : image.group_of(id)) {
      if (!out.insert(member).second) continue;
      for (uint32_t need : image.file(member).needs()) todo.push_back(need);
    }
  }
  return out;
}

namespace {

// open_files(), its errors with the module's reason alone when `plain`.
std::map<uint32_t, UniqueFd> open_groups(const FilesImage& image, const std::set<uint32_t>& ids,
                                         const RestoreFdOptions& opts, const FdRoom& room,
                                         const std::map<uint32_t, int>& already, bool plain) {
  std::map<uint32_t, UniqueFd> opened;
  std::map<uint32_t, int> open_now = already;  // what the process has: for `needs`
  for (uint32_t g : groups_in_order(image, ids)) {
    std::vector<uint32_t> members = image.group_of(g);
    if (std::all_of(members.begin(), members.end(), [&](uint32_t id) { return open_now.count(id); })) continue;
    OpenRequest req{{}, open_now, RestoreTarget{-1, -1, opts}};
    for (uint32_t id : members) req.group.push_back(&image.file(id));
    const FileModule& module = module_of(req.group.front()->kind());
    if (module.open_per_fd)
      throw Error(format("cannot restore file %u (%s) by itself: install_fds() makes each of its fds", g,
                         module.name));
    std::vector<UniqueFd> fds;
    try {
      fds = module.open(req);
      if (fds.size() != members.size())
        throw Error(format("its module made %zu files of %zu", fds.size(), members.size()));
      // --file-locks: flock and OFD locks belong to the description, so
      // its opener takes them, whatever its kind (file_locks.h).
      for (size_t i = 0; i < members.size(); i++) take_description_locks(*req.group[i], fds[i].get());
    } catch (const Error& err) {
      if (plain) throw;
      throw Error(format("cannot restore file %u (%s): %s", g, module.name, err.what()));
    }
    for (size_t i = 0; i < members.size(); i++) {
      UniqueFd fd;
      try {
        fd = place(std::move(fds[i]), members[i], room);
      } catch (const Error& err) {
        if (plain) throw;
        throw Error(format("cannot restore file %u (%s): %s", members[i], module.name, err.what()));
      }
      LOG_DEBUG("file %u at fd %d: %s %s", members[i], fd.get(), module.name,
                module.describe(*req.group[i]).c_str());
      open_now[members[i]] = fd.get();
      opened[members[i]] = std::move(fd);
    }
  }
  return opened;
}

}  // namespace

std::map<uint32_t, UniqueFd> open_files(const FilesImage& image, const std::set<uint32_t>& ids,
                                        const RestoreFdOptions& opts, const FdRoom& room,
                                        const std::map<uint32_t, int>& already) {
  return open_groups(image, ids, opts, room, already, false);
}

void install_fds(const FilesImage& image, int pid, const std::map<uint32_t, int>& opened,
                 const RestoreFdOptions& opts) {
  install(image, pid, opened, opts);
  LOG_INFO("Installed %zu fds of pid %d", image.fds_of(pid).size(), pid);
}

void restore_fds(const FilesImage& image, int pid, const RestoreFdOptions& opts) {
  const std::vector<img::FdinfoEntry>& fds = image.fds_of(pid);
  if (fds.empty()) return;
  // Fd by fd, so that an error names the first fd of its file.
  std::map<uint32_t, UniqueFd> by_id;
  std::map<uint32_t, int> opened;
  std::map<uint32_t, int> own_number;  // each file at its first fd, when that is free
  for (const img::FdinfoEntry& e : fds) own_number.emplace(e.id(), int(e.fd()));
  FdRoom room(floor_of(fds));
  room.at = &own_number;
  for (const img::FdinfoEntry& e : fds) {
    if (module_of(image.file(e.id()).kind()).open_per_fd || opened.count(e.id())) continue;
    try {
      for (auto& [id, fd] : open_groups(image, with_groups_and_needs(image, {e.id()}), opts, room, opened,
                                        true)) {
        opened[id] = fd.get();
        by_id[id] = std::move(fd);
      }
    } catch (const Error& err) {
      throw fd_error(pid, int(e.fd()), err.what());
    }
  }
  install(image, pid, opened, opts);
  for (auto& [id, fd] : by_id)
    if (has_number(fds, id, fd.get())) (void)fd.release();  // installed where it was opened
  by_id.clear();  // closing them would drop the POSIX locks: they come after
  take_posix_locks(image, pid);
  LOG_INFO("Restored %zu fds of pid %d", fds.size(), pid);
}

}  // namespace ckpt::files
