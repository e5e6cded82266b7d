// Restore of the tree's shared objects (restore/shared_memory.h) from images
// written here: what is refused before anything is made (a deleted file
// whose directory is gone, a SysV id or key taken, areas naming objects
// that have no image), and objects made in this process: shared anonymous
// memory and a memfd with their content, a deleted file back at its path
// and nameless again.
//
// The AddressSanitizer variant of the unit tests does not build src/restore.
#if !defined(__SANITIZE_ADDRESS__)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>

#include "error_of.h"
#include "ckpt/error.h"
#include "image/image.h"
#include "restore/shared_memory.h"
#include "temp_dir.h"

using namespace ckpt;

namespace {

const uint64_t kPage = uint64_t(sysconf(_SC_PAGESIZE));

using test::error_of;

class SharedMemoryTest : public ::testing::Test {
 protected:
  test::TempDir tmp_{"shared-memory-test"};
  image::ImageDir dir_ = image::ImageDir::create(tmp_.file("images"));

  // shmem-ID.img with `pages` of data at each pgoff of `runs`, page i of
  // the data filled with 'a' + i.
  void write_shmem(const img::ShmemHead& head, const std::vector<uint64_t>& runs) {
    image::ImageWriter w(dir_, image::Kind::Shmem, head.id());
    img::ShmemRecord rec;
    *rec.mutable_head() = head;
    w.write(rec);
    if (!runs.empty()) {
      image::PagesWriter pages(dir_, image::Kind::ShmemPages, head.id());
      for (size_t i = 0; i < runs.size(); i++) {
        img::ShmemRecord run;
        run.mutable_run()->set_pgoff(runs[i]);
        run.mutable_run()->set_nr_pages(1);
        w.write(run);
        std::string page(size_t(kPage), char('a' + i));
        pages.write(page.data(), page.size());
      }
      pages.commit();
    }
    w.commit();
  }
  void write_ghost(uint32_t id, const std::string& path, const std::string& data) {
    image::ImageWriter w(dir_, image::Kind::Ghost, id);
    img::GhostRecord rec;
    img::GhostHead* h = rec.mutable_head();
    h->set_id(id);
    h->set_path(path);
    h->set_mode(S_IFREG | 0640);
    h->set_uid(getuid());
    h->set_gid(getgid());
    h->set_size(data.size() + 10);
    w.write(rec);
    img::GhostRecord chunk;
    chunk.mutable_chunk()->set_offset(0);
    chunk.mutable_chunk()->set_data(data);
    w.write(chunk);
    w.commit();
  }
  static img::ShmemHead head(uint32_t id, img::ShmemKind kind, uint64_t size) {
    img::ShmemHead h;
    h.set_id(id);
    h.set_kind(kind);
    h.set_size(size);
    return h;
  }
  // A tree of one process with these areas.
  static restore::TreeImage tree_with(const std::vector<img::VmaEntry>& vmas) {
    restore::TreeImage t;
    restore::ProcessImage p;
    p.pstree.set_pid(4242);
    p.vmas = vmas;
    t.procs.push_back(p);
    return t;
  }
  static img::VmaEntry area(img::VmaKind kind, uint32_t shmem_id) {
    img::VmaEntry v;
    v.set_start(0x10000);
    v.set_end(0x12000);
    v.set_kind(kind);
    v.set_shmem_id(shmem_id);
    return v;
  }
};

TEST_F(SharedMemoryTest, AnonymousMemoryAndMemfdAreMadeWithTheirContent) {
  write_shmem(head(1, img::SHMEM_ANON, 4 * kPage), {kPage, 3 * kPage});
  img::ShmemHead m = head(2, img::SHMEM_MEMFD, kPage + 10);  // the last page only partly the memfd's
  m.set_memfd_name("unit");
  m.set_seals(F_SEAL_GROW | F_SEAL_SHRINK);
  m.set_mode(0600);
  write_shmem(m, {0, kPage});
  restore::SharedMemory sm = restore::SharedMemory::load(
      dir_, tree_with({area(img::VMA_ANON_SHARED, 1), area(img::VMA_MEMFD, 2)}));
  sm.check();
  sm.create(dir_);
  ASSERT_EQ(sm.fds().shmem.size(), 2u);

  int anon = sm.fds().shmem.at(1);
  EXPECT_EQ(anon, sm.area_fd(area(img::VMA_ANON_SHARED, 1)));
  char link[256] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(anon)).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_STREQ(link, "/dev/zero (deleted)");
  struct stat st;
  ASSERT_EQ(fstat(anon, &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), 4 * kPage);
  std::string all(size_t(4 * kPage), '?');
  ASSERT_EQ(pread(anon, all.data(), all.size(), 0), ssize_t(all.size()));
  EXPECT_EQ(all, std::string(size_t(kPage), '\0') + std::string(size_t(kPage), 'a') + std::string(size_t(kPage), '\0') +
                     std::string(size_t(kPage), 'b'));

  int memfd = sm.fds().shmem.at(2);
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(memfd)).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_STREQ(link, "/memfd:unit (deleted)");
  ASSERT_EQ(fstat(memfd, &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), kPage + 10);  // the padding of the pages image is not written
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(fcntl(memfd, F_GET_SEALS), F_SEAL_GROW | F_SEAL_SHRINK);
  char tail[12] = {};
  ASSERT_EQ(pread(memfd, tail, sizeof(tail), off_t(kPage)), 10);
  EXPECT_EQ(std::string(tail, 10), std::string(10, 'b'));
  EXPECT_EQ(sm.area_shmid(area(img::VMA_MEMFD, 2)), -1);
}

TEST_F(SharedMemoryTest, ADeletedFileComesBackNamelessOrNextToItsTakenPath) {
  std::string path = tmp_.file("ghost");
  write_ghost(1, path, "content");
  write_ghost(2, path, "other");
  restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree_with({}));
  sm.check();
  // Another file has the path now: both go next to it (each takes the name
  // only while it is made).
  int holder = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(holder, 0);
  close(holder);
  sm.create(dir_);
  for (uint32_t id : {1u, 2u}) {
    int fd = sm.fds().ghost.at(id);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    char link[512] = {};
    ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof(link) - 1), 0);
    EXPECT_EQ(std::string(link), path + ".ckpt-ghost-1 (deleted)");
  }
  char data[20] = {};
  ASSERT_EQ(pread(sm.fds().ghost.at(1), data, sizeof(data), 0), 17);  // 7 bytes and a hole of 10
  EXPECT_EQ(std::string(data, 7), "content");
  EXPECT_EQ(std::string(data + 7, 10), std::string(10, '\0'));
  // The path's own file is untouched, and nothing else is left.
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_NE(access((path + ".ckpt-ghost-1").c_str(), F_OK), 0);
}

// A deleted working directory inside an rmdir'ed tree: its missing
// ancestor is made with the mode the dump saw, a deleted file that was in it
// is made inside it, and all are removed again once ckpt holds them.
TEST_F(SharedMemoryTest, ADeletedDirectoryComesBackWithItsDeletedParentAndFiles) {
  std::string top = tmp_.file("top"), parent = top + "/a", path = parent + "/b";
  ASSERT_EQ(mkdir(top.c_str(), 0755), 0);
  {
    image::ImageWriter w(dir_, image::Kind::Ghost, 1);
    img::GhostRecord rec;
    img::GhostHead* h = rec.mutable_head();
    h->set_id(1);
    h->set_path(path);
    h->set_mode(S_IFDIR | 0751);
    h->set_uid(getuid());
    h->set_gid(getgid());
    h->set_size(0);
    img::GhostDirParent* p = h->add_deleted_parents();
    p->set_mode(S_IFDIR | 0711);
    p->set_uid(getuid());
    p->set_gid(getgid());
    w.write(rec);
    w.commit();
  }
  write_ghost(2, path + "/log", "hello");
  restore::TreeImage tree = tree_with({});
  tree.procs[0].has_fs = true;
  tree.procs[0].fs.set_cwd(path + " (deleted)");
  tree.procs[0].fs.set_root("/");
  tree.procs[0].fs.set_umask(022);
  tree.procs[0].fs.set_cwd_ghost_id(1);
  restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree);
  sm.check();  // the file's directory is gone, but it is a ghost too
  sm.create(dir_);
  int dir = sm.fds().ghost.at(1);
  struct stat st;
  ASSERT_EQ(fstat(dir, &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  char link[512] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(dir)).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link), path + " (deleted)");
  ASSERT_EQ(fstatat(dir, "..", &st, 0), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(sm.fds().ghost.at(2))).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link, strlen(path.c_str()) + 4), path + "/log");
  EXPECT_NE(access(parent.c_str(), F_OK), 0);
  EXPECT_EQ(access(top.c_str(), F_OK), 0);
}

// A file where the directory's ancestor was: refused before anything is
// made, naming it.
TEST_F(SharedMemoryTest, ADeletedDirectoryBehindAFileIsRefused) {
  std::string blocker = tmp_.file("blocker");
  int fd = open(blocker.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  image::ImageWriter w(dir_, image::Kind::Ghost, 1);
  img::GhostRecord rec;
  img::GhostHead* h = rec.mutable_head();
  h->set_id(1);
  h->set_path(blocker + "/x/cwd");
  h->set_mode(S_IFDIR | 0700);
  h->set_uid(0);
  h->set_gid(0);
  h->set_size(0);
  w.write(rec);
  w.commit();
  restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree_with({}));
  EXPECT_NE(error_of([&] { sm.check(); }).find(blocker + " is not a directory any more"), std::string::npos);
}

// A segment not marked for removal outlives the killed tree: unattached,
// with the dumped key and size, it is taken back with the dumped content.
TEST_F(SharedMemoryTest, ASysvSegmentThatOutlivedTheTreeIsTakenBack) {
  int key = int(0x7e000000u | (uint32_t(getpid()) & 0xffffff));
  int id = shmget(key, 2 * kPage, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0);
  auto* at = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(at, reinterpret_cast<char*>(-1));
  memset(at, 'x', 2 * kPage);  // changed since the dump
  shmdt(at);
  img::ShmemHead h = head(1, img::SHMEM_SYSV, 2 * kPage);
  img::SysvShmEntry* sv = h.mutable_sysv();
  sv->set_key(key);
  sv->set_shmid(id);
  sv->set_mode(0640);
  sv->set_uid(getuid());
  sv->set_gid(getgid());
  sv->set_removed(false);
  sv->set_segsz(2 * kPage);
  write_shmem(h, {0});
  {
    restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree_with({area(img::VMA_SYSV_SHM, 1)}));
    sm.check();
    sm.create(dir_);
    EXPECT_EQ(sm.area_shmid(area(img::VMA_SYSV_SHM, 1)), id);
    EXPECT_EQ(sm.area_fd(area(img::VMA_SYSV_SHM, 1)), -1);  // attached by id, not mapped
  }  // not committed: a segment taken back stays
  struct shmid_ds ds;
  ASSERT_EQ(shmctl(id, IPC_STAT, &ds), 0);
  EXPECT_EQ(ds.shm_perm.mode & 0777, 0640u);
  at = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(at, reinterpret_cast<char*>(-1));
  EXPECT_EQ(std::string(at, size_t(kPage)), std::string(size_t(kPage), 'a'));
  EXPECT_EQ(std::string(at + kPage, size_t(kPage)), std::string(size_t(kPage), '\0'));  // a hole in the dump
  shmdt(at);
  shmctl(id, IPC_RMID, nullptr);
}

// Made with its id and key; removed again if the restore fails.
TEST_F(SharedMemoryTest, ASysvSegmentIsMadeWithItsIdAndRemovedIfTheRestoreFails) {
  int probe = shmget(IPC_PRIVATE, size_t(kPage), IPC_CREAT | 0600);
  ASSERT_GE(probe, 0);
  shmctl(probe, IPC_RMID, nullptr);
  int id = probe + 32768;  // the same slot, another sequence number: free
  int key = int(0x7f000000u | (uint32_t(getpid()) & 0xffffff));
  img::ShmemHead h = head(1, img::SHMEM_SYSV, kPage + 10);
  img::SysvShmEntry* sv = h.mutable_sysv();
  sv->set_key(key);
  sv->set_shmid(id);
  sv->set_mode(0604);
  sv->set_uid(getuid());
  sv->set_gid(getgid());
  sv->set_removed(false);
  sv->set_segsz(kPage + 10);
  write_shmem(h, {0});
  {
    restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree_with({area(img::VMA_SYSV_SHM, 1)}));
    sm.check();
    sm.create(dir_);
    EXPECT_EQ(sm.area_shmid(area(img::VMA_SYSV_SHM, 1)), id);
    struct shmid_ds ds;
    ASSERT_EQ(shmctl(id, IPC_STAT, &ds), 0);
    EXPECT_EQ(ds.shm_perm.__key, key);
    EXPECT_EQ(ds.shm_perm.mode & 0777, 0604u);
    EXPECT_EQ(ds.shm_segsz, kPage + 10);
    EXPECT_EQ(ds.shm_nattch, 0u);  // ckpt's own attachment is gone
    auto* at = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    ASSERT_NE(at, reinterpret_cast<char*>(-1));
    EXPECT_EQ(std::string(at, 10), std::string(10, 'a'));
    shmdt(at);
  }  // not committed: the restore failed
  struct shmid_ds ds;
  EXPECT_NE(shmctl(id, IPC_STAT, &ds), 0);
  shmctl(id, IPC_RMID, nullptr);
}

TEST_F(SharedMemoryTest, RefusedBeforeAnythingIsMade) {
  write_ghost(1, tmp_.file("gone/dir/file"), "x");
  restore::SharedMemory ghost = restore::SharedMemory::load(dir_, tree_with({}));
  EXPECT_EQ(error_of([&] { ghost.check(); }), "cannot restore the deleted file " + tmp_.file("gone/dir/file") +
                                                  ": its directory " + tmp_.file("gone/dir") + " is gone");
  ASSERT_EQ(unlink(dir_.path_of(image::Kind::Ghost, 1).c_str()), 0);

  // A SysV segment whose id another segment has now, and one whose key.
  int other = shmget(IPC_PRIVATE, size_t(kPage), IPC_CREAT | 0600);
  ASSERT_GE(other, 0);
  int key = int(0x7d000000u | (uint32_t(getpid()) & 0xffffff));
  int keyed = shmget(key, size_t(kPage), IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(keyed, 0);
  auto sysv = [&](int shmid, int k) {
    img::ShmemHead h = head(1, img::SHMEM_SYSV, 2 * kPage);
    img::SysvShmEntry* s = h.mutable_sysv();
    s->set_key(k);
    s->set_shmid(shmid);
    s->set_mode(0600);
    s->set_uid(0);
    s->set_gid(0);
    s->set_removed(false);
    s->set_segsz(2 * kPage);
    write_shmem(h, {});
    restore::SharedMemory sm = restore::SharedMemory::load(dir_, tree_with({area(img::VMA_SYSV_SHM, 1)}));
    return error_of([&] { sm.check(); });
  };
  EXPECT_EQ(sysv(other, 0x1234),
            format("cannot restore SysV shared memory segment %d (key 0x00001234) (of pid 4242): the id is taken by "
                   "another segment (key 0x00000000, %llu bytes)",
                   other, (unsigned long long)kPage));
  // An id no segment has (ids grow by the slot count), with a key that is taken.
  int free_id = other + 32768 * 7;
  EXPECT_EQ(sysv(free_id, key), format("cannot restore SysV shared memory segment %d (key 0x%08x) (of pid 4242): its "
                                       "key is taken by segment %d",
                                       free_id, key, keyed));
  shmctl(other, IPC_RMID, nullptr);
  shmctl(keyed, IPC_RMID, nullptr);

  // Areas naming objects without an image, or of another kind.
  EXPECT_EQ(error_of([&] { restore::SharedMemory::load(dir_, tree_with({area(img::VMA_ANON_SHARED, 5)})); }),
            "corrupted image " + dir_.path_of(image::Kind::Mm, 4242) +
                ": area 0x10000-0x12000 maps shared memory object 5, which has no image");
  EXPECT_EQ(error_of([&] { restore::SharedMemory::load(dir_, tree_with({area(img::VMA_MEMFD, 1)})); }),
            "corrupted image " + dir_.path_of(image::Kind::Mm, 4242) +
                ": area 0x10000-0x12000 of kind VMA_MEMFD maps shared memory object 1 of another kind");
}

}  // namespace
#endif
