// The objects a tree shares, each recorded ONCE for the whole dump, whatever
// number of processes, areas and fds use it:
//
//   shmem objects, by inode: MAP_SHARED|MAP_ANONYMOUS memory, memfds, SysV
//     segments -> shmem-ID.img (head, runs) + shmem-pages-ID.img (the pages)
//   deleted files, by inode -> ghost-ID.img (head, content)
//   deleted directories (a cwd, a root, an fd), by inode -> ghost-ID.img
//     (head only: a deleted directory is empty)
//
// Areas (VmaEntry.shmem_id / ghost_id) and fds (MemfdFileEntry.shmem_id,
// RegFileEntry.ghost_id) name them by id.  Of shared anonymous memory only
// the pages some area of the tree maps are saved (the union of the areas'
// pgoff ranges: nothing else can reach them); of a memfd or a SysV segment,
// all of it (an fd or shmget can).  Recording an object only opens it in
// ckpt (through /proc/PID/map_files or our stolen fd) and reads its state: a
// refusal leaves the tree as it was.  The content is read at the end, from
// ckpt, while the tree is still frozen.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "ckpt/unique_fd.h"
#include "dump/link_remap.h"
#include "dump/pending_images.h"
#include "files/objects.h"
#include "ghost.pb.h"
#include "mem/shmem.h"
#include "mem/vma.h"
#include "proc/maps.h"
#include "shmem.pb.h"

namespace ckpt::dump {

// Why the deleted file `path` (stat `st`) cannot be saved as a ghost with
// dump --ghost-limit `limit` ("" if it can); the pre-flight asks it too.
// A regular file with other names left is refused unless `link_remap`
// (dump --link-remap), and then not copied, so the limit does not apply.
std::string ghost_refusal(const std::string& path, const struct stat& st, uint64_t limit, bool link_remap);

// Whether a deleted file is saved by a link of dump --link-remap rather
// than by its content: a regular file that still has other names.
bool by_link_remap(const struct stat& st, bool link_remap);

class SharedObjects final : public files::DumpObjects {
 public:
  SharedObjects(uint64_t page_size, uint64_t ghost_limit) : page_size_(page_size), ghost_limit_(ghost_limit) {}

  // Records the object behind `area` of `pid` (vma.object is not None; `st`
  // is its file, from /proc/PID/map_files) and sets vma's shmem_id or
  // ghost_id.  Throws "cannot dump memory area ... of pid P: REASON".
  void add_area(pid_t pid, const proc::MapsEntry& area, const struct stat& st, mem::Vma& vma);

  // dump --link-remap: deleted regular files with other names left are
  // linked back into the file system (dump/link_remap.h) under names made
  // of `tag` (the root pid), not copied.
  void enable_link_remap(std::string tag) {
    link_remap_ = true;
    link_tag_ = std::move(tag);
  }
  // The images are committed: the links of --link-remap stay for the
  // restore.  (Without it, every link goes with this object.)
  void keep_links() { links_.keep(); }

  uint32_t memfd(const files::OpenFd& fd) override;
  uint32_t ghost(const files::OpenFd& fd) override;
  // The ghost id of the deleted directory that is the working directory or
  // root of `pid`: `link` is "cwd" or "root" (of /proc/PID), `shown` what the
  // link reads ("PATH (deleted)").  Throws Error with the reason alone.
  uint32_t ghost_dir(pid_t pid, const char* link, const std::string& shown);

  // After the last process: every deleted file's directory is still there,
  // or is a deleted directory of the tree (a ghost directory or a deleted
  // ancestor of one), made again before it at restore.  Throws "cannot dump
  // the deleted file PATH of pid P: ..." otherwise.
  void check_ghost_dirs() const;

  // shmem-ID.img and shmem-pages-ID.img of every shmem object, ghost-ID.img
  // of every deleted file, their content read now.
  void write_images(PendingImages& images);

 private:
  struct Shmem {
    img::ShmemHead head;
    UniqueFd fd;                        // ckpt's own, read-only
    std::vector<mem::PageRange> saved;  // object offsets to save, merged
  };
  struct Ghost {
    img::GhostHead head;
    UniqueFd fd;
    pid_t user = 0;  // the first process that holds it, for messages
  };
  // (kind, dev, ino): SysV segments are shmem files whose inode number is
  // their id, on the same internal mount as the others.
  using Key = std::tuple<int, uint64_t, uint64_t>;

  Shmem* find_shmem(const Key& key);
  Shmem& new_shmem(const Key& key, img::ShmemKind kind, const struct stat& st, UniqueFd fd);
  std::string ghost_refusal(const std::string& path, const struct stat& st) const;
  Ghost& new_ghost(pid_t user, const std::string& path, const struct stat& st, UniqueFd fd);
  // new_ghost(), and its link when --link-remap saves it by a link.
  uint32_t add_ghost(pid_t user, const std::string& path, const struct stat& st, UniqueFd fd);
  img::SysvShmEntry sysv_state(pid_t pid, const proc::MapsEntry& area, int shmid, int fd) const;
  void write_shmem(PendingImages& images, Shmem& s);
  void write_ghost(PendingImages& images, Ghost& g);

  uint64_t page_size_;
  uint64_t ghost_limit_;
  std::map<Key, size_t> shmem_index_;
  std::vector<Shmem> shmem_;
  std::map<std::pair<uint64_t, uint64_t>, size_t> ghost_index_;
  std::vector<Ghost> ghosts_;
  bool link_remap_ = false;
  std::string link_tag_;
  // Declared last: on a failure, the links go before the fds they were
  // made from.
  LinkRemaps links_;
};

}  // namespace ckpt::dump
