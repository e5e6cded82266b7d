// Memory areas: classification of maps entries, and which pages the dump
// saves, checked on this process's own mappings.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ckpt/error.h"
#include "mem/page_frames.h"
#include "mem/page_plan.h"
#include "mem/page_scan.h"
#include "mem/shared_pages.h"
#include "mem/vma.h"
#include "proc/maps.h"

using namespace ckpt;

namespace {

const long kPage = sysconf(_SC_PAGESIZE);

proc::MapsEntry area(const std::string& line, std::vector<std::string> vm_flags = {}) {
  proc::MapsEntry m = proc::parse_maps_line(line);
  m.vm_flags = std::move(vm_flags);
  return m;
}

struct stat regular_file_stat() {
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  st.st_dev = 0xfd00;
  st.st_ino = 42;
  st.st_size = 8192;
  return st;
}

TEST(Vma, ClassifiesSpecialAreas) {
  auto kind = [](const char* name) {
    auto v = mem::classify_vma(area(std::string("7ffd1c7f2000-7ffd1c7f6000 r--p 00000000 00:00 0   ") + name,
                                    {"rd", "mr", "pf", "io"}),
                               nullptr, 1);
    return v ? int(v->entry.kind()) : -1;
  };
  EXPECT_EQ(kind("[vdso]"), img::VMA_VDSO);
  EXPECT_EQ(kind("[vvar]"), img::VMA_VVAR);
  EXPECT_EQ(kind("[vvar_vclock]"), img::VMA_VVAR_VCLOCK);
  EXPECT_EQ(kind("[vsyscall]"), -1);

  auto stack = mem::classify_vma(area("7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0  [stack]", {"rd", "wr", "gd"}),
                                 nullptr, 1);
  ASSERT_TRUE(stack);
  EXPECT_EQ(stack->entry.kind(), img::VMA_ANON_PRIVATE);
  EXPECT_TRUE(stack->entry.stack());
  EXPECT_EQ(stack->entry.flags(), uint32_t(MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN));
  EXPECT_EQ(stack->entry.prot(), uint32_t(PROT_READ | PROT_WRITE));
  EXPECT_EQ(stack->pages, mem::PageSource::Anon);

  auto heap = mem::classify_vma(area("55d4c9d3e000-55d4c9d5f000 rw-p 00000000 00:00 0  [heap]"), nullptr, 1);
  EXPECT_TRUE(heap->entry.heap());
  EXPECT_EQ(heap->entry.name(), "[heap]");

  auto anon = mem::classify_vma(area("7f1c2a400000-7f1c2a401000 rwxp 00000000 00:00 0 ", {"dc", "dd"}), nullptr, 1);
  EXPECT_EQ(anon->entry.kind(), img::VMA_ANON_PRIVATE);
  EXPECT_EQ(anon->entry.prot(), uint32_t(PROT_READ | PROT_WRITE | PROT_EXEC));
  EXPECT_EQ(anon->entry.madv(), (1ull << MADV_DONTFORK) | (1ull << MADV_DONTDUMP));
  EXPECT_FALSE(anon->entry.has_name());

  // MAP_DROPPABLE (maps says "p"): its own mapping type, not MAP_PRIVATE;
  // its wipe-on-fork and dont-dump are advice like any other.
  auto drop = mem::classify_vma(area("7f1c2a400000-7f1c2a404000 rw-p 00000000 00:00 0 ",
                                     {"rd", "wr", "nr", "wf", "dd", "dp"}),
                                nullptr, 1);
  EXPECT_EQ(drop->entry.kind(), img::VMA_ANON_PRIVATE);
  EXPECT_EQ(drop->entry.flags(), uint32_t(0x08 /* MAP_DROPPABLE */ | MAP_ANONYMOUS | MAP_NORESERVE));
  EXPECT_EQ(drop->entry.madv(), (1ull << MADV_WIPEONFORK) | (1ull << MADV_DONTDUMP));
  EXPECT_EQ(drop->pages, mem::PageSource::Anon);
}

TEST(Vma, ClassifiesFileAndSharedMappings) {
  struct stat file = regular_file_stat();
  auto priv = mem::classify_vma(area("55d4c8a02000-55d4c8a06000 r-xp 00002000 fd:00 42   /usr/bin/sleep"), &file, 1);
  EXPECT_EQ(priv->entry.kind(), img::VMA_FILE_PRIVATE);
  EXPECT_EQ(priv->entry.pgoff(), 0x2000u);
  EXPECT_EQ(priv->entry.flags(), uint32_t(MAP_PRIVATE));
  EXPECT_EQ(priv->entry.file().path(), "/usr/bin/sleep");
  EXPECT_EQ(priv->entry.file().ino(), 42u);
  EXPECT_EQ(priv->entry.file().size(), 8192u);
  EXPECT_EQ(priv->pages, mem::PageSource::PrivateFile);

  auto shared = mem::classify_vma(area("7f1c2a100000-7f1c2a101000 rw-s 00000000 fd:00 42   /tmp/data"), &file, 1);
  EXPECT_EQ(shared->entry.kind(), img::VMA_FILE_SHARED);
  EXPECT_EQ(shared->entry.flags(), uint32_t(MAP_SHARED));
  EXPECT_EQ(shared->pages, mem::PageSource::None);

  auto shmem = mem::classify_vma(area("7f1c2a000000-7f1c2a021000 rw-s 00000000 00:01 1025  /dev/zero (deleted)"),
                                 &file, 1);
  EXPECT_EQ(shmem->entry.kind(), img::VMA_ANON_SHARED);
  EXPECT_EQ(shmem->entry.flags(), uint32_t(MAP_SHARED | MAP_ANONYMOUS));
  EXPECT_EQ(shmem->pages, mem::PageSource::None);  // the object's, saved once for the tree
  EXPECT_EQ(shmem->object, mem::SharedObject::Shmem);
  EXPECT_FALSE(shmem->entry.has_file());

  auto named = mem::classify_vma(area("7f1c2a000000-7f1c2a021000 rw-s 00000000 00:01 1025  [anon_shmem:ring]"),
                                 &file, 1);
  EXPECT_EQ(named->entry.kind(), img::VMA_ANON_SHARED);
  EXPECT_EQ(named->object, mem::SharedObject::Shmem);
}

TEST(Vma, ClassifiesSharedObjects) {
  struct stat file = regular_file_stat();
  auto memfd = mem::classify_vma(area("7f00000000-7f00002000 rw-s 00001000 00:01 9  /memfd:jit (deleted)"), &file, 1);
  EXPECT_EQ(memfd->entry.kind(), img::VMA_MEMFD);
  EXPECT_EQ(memfd->entry.flags(), uint32_t(MAP_SHARED));
  EXPECT_EQ(memfd->entry.pgoff(), 0x1000u);
  EXPECT_EQ(memfd->object, mem::SharedObject::Memfd);
  EXPECT_EQ(memfd->pages, mem::PageSource::None);
  EXPECT_FALSE(memfd->entry.has_file());

  // A private mapping keeps the pages it copied on write.
  auto private_memfd = mem::classify_vma(area("7f00000000-7f00002000 rw-p 00000000 00:01 9  /memfd:jit (deleted)"),
                                         &file, 1);
  EXPECT_EQ(private_memfd->entry.flags(), uint32_t(MAP_PRIVATE));
  EXPECT_EQ(private_memfd->pages, mem::PageSource::PrivateFile);

  auto sysv = mem::classify_vma(area("7f00000000-7f00004000 rw-s 00000000 00:01 32768  /SYSV0000abcd (deleted)"),
                                &file, 1);
  EXPECT_EQ(sysv->entry.kind(), img::VMA_SYSV_SHM);
  EXPECT_EQ(sysv->object, mem::SharedObject::Sysv);
  EXPECT_EQ(sysv->pages, mem::PageSource::None);

  auto ghost = mem::classify_vma(area("7f00000000-7f00001000 r--p 00000000 fd:00 9  /tmp/gone (deleted)"), &file, 1);
  EXPECT_EQ(ghost->entry.kind(), img::VMA_FILE_PRIVATE);
  EXPECT_EQ(ghost->object, mem::SharedObject::Ghost);
  EXPECT_EQ(ghost->entry.file().path(), "/tmp/gone");
  EXPECT_EQ(ghost->pages, mem::PageSource::PrivateFile);
}

TEST(Vma, RefusesWhatIsNotSupportedByName) {
  struct stat file = regular_file_stat();
  auto error = [&](const std::string& line, std::vector<std::string> flags = {}) -> std::string {
    try {
      mem::classify_vma(area(line, std::move(flags)), &file, 77);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error("7f00000000-7f00001000 rw-p 00000000 00:01 9  /SYSV0000abcd (deleted)"),
            "cannot dump memory area 7f00000000-7f00001000 (/SYSV0000abcd (deleted)) of pid 77: "
            "a private mapping of SysV shared memory is not supported yet");
  EXPECT_EQ(error("7f00000000-7f00001000 rw-p 00000000 00:01 9  /dev/zero (deleted)"),
            "cannot dump memory area 7f00000000-7f00001000 (/dev/zero (deleted)) of pid 77: "
            "a private mapping of shared anonymous memory is not supported yet");
  EXPECT_EQ(error("7f00000000-7f00001000 rw-s 00000000 00:05 9  /dev/dri/card0", {"rd", "wr", "io", "pf"}),
            "cannot dump memory area 7f00000000-7f00001000 (/dev/dri/card0) of pid 77: "
            "device memory mappings are not supported yet");
  EXPECT_EQ(error("7f00000000-7f00001000 r-xp 00000000 00:00 0  [uprobes]"),
            "cannot dump memory area 7f00000000-7f00001000 ([uprobes]) of pid 77: "
            "special mappings like [uprobes] are not supported yet");
}

// An anonymous private area of `pages` pages, unmapped at the end.
struct Mapping {
  char* at;
  size_t size;
  Mapping(size_t pages, int prot, int flags, int fd = -1)
      : at(static_cast<char*>(mmap(nullptr, pages * kPage, prot, flags, fd, 0))), size(pages * kPage) {}
  ~Mapping() { munmap(at, size); }
  uint64_t page(size_t n) const { return reinterpret_cast<uint64_t>(at) + n * kPage; }
};

TEST(PageScan, AnonymousAreaSavesWrittenPagesOnly) {
  Mapping m(16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(m.at, MAP_FAILED);
  ASSERT_EQ(madvise(m.at, m.size, MADV_NOHUGEPAGE), 0);
  for (size_t p : {0, 1, 2, 8}) m.at[p * kPage] = 1;
  volatile char sink = m.at[5 * kPage];  // the zero page: nothing to save
  (void)sink;

  mem::PagemapScanner scanner(getpid());
  auto ranges = scanner.scan(m.page(0), m.page(16), mem::PageSource::Anon);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].start, m.page(0));
  EXPECT_EQ(ranges[0].end, m.page(3));
  EXPECT_EQ(ranges[1].start, m.page(8));
  EXPECT_EQ(ranges[1].end, m.page(9));
  EXPECT_TRUE(scanner.scan(m.page(0), m.page(16), mem::PageSource::None).empty());
}

// Guard pages (Linux 6.13) are no pages to save, though the kernel counts
// them as swapped: they come back as guards (PAGE_IS_GUARD, Linux 6.14).
TEST(PageScan, GuardPagesAreToldApart) {
  Mapping m(16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(m.at, MAP_FAILED);
  ASSERT_EQ(madvise(m.at, m.size, MADV_NOHUGEPAGE), 0);
  memset(m.at, 1, m.size);
  if (madvise(m.at + 4 * kPage, 2 * kPage, 102 /* MADV_GUARD_INSTALL */) != 0) GTEST_SKIP() << "no guard pages";
  mem::PagemapScanner scanner(getpid());
  mem::AreaScan scan = scanner.scan_area(m.page(0), m.page(16), mem::PageSource::Anon);
  if (!scanner.sees_guards()) GTEST_SKIP() << "PAGEMAP_SCAN does not report guard pages";
  ASSERT_EQ(scan.pages.size(), 2u);
  EXPECT_EQ(scan.pages[0].start, m.page(0));
  EXPECT_EQ(scan.pages[0].end, m.page(4));
  EXPECT_EQ(scan.pages[1].start, m.page(6));
  EXPECT_EQ(scan.pages[1].end, m.page(16));
  ASSERT_EQ(scan.guards.size(), 1u);
  EXPECT_EQ(scan.guards[0].start, m.page(4));
  EXPECT_EQ(scan.guards[0].end, m.page(6));
  // An area whose pages are saved elsewhere still has its guards found.
  mem::AreaScan none = scanner.scan_area(m.page(0), m.page(16), mem::PageSource::None);
  EXPECT_TRUE(none.pages.empty());
  ASSERT_EQ(none.guards.size(), 1u);
  EXPECT_EQ(none.guards[0].start, m.page(4));
}

TEST(PageScan, PrivateFileAreaSavesCopiedPagesOnly) {
  char path[] = "/tmp/ckpt-mem-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(ftruncate(fd, 4 * kPage), 0);
  Mapping m(4, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
  close(fd);
  ASSERT_NE(m.at, MAP_FAILED);
  volatile char sink = m.at[0];  // the file's page
  (void)sink;
  m.at[2 * kPage] = 1;           // copied on write
  mem::PagemapScanner scanner(getpid());
  auto ranges = scanner.scan(m.page(0), m.page(4), mem::PageSource::PrivateFile);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].start, m.page(2));
  EXPECT_EQ(ranges[0].end, m.page(3));
}

TEST(PageScan, SharedAnonymousAreaSavesItsData) {
  Mapping m(8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  ASSERT_NE(m.at, MAP_FAILED);
  for (size_t p : {2, 3, 6}) m.at[p * kPage] = 1;
  char name[64];
  snprintf(name, sizeof(name), "/proc/self/map_files/%lx-%lx", (unsigned long)m.page(0), (unsigned long)m.page(8));
  UniqueFd object(open(name, O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(object) << name << ": " << strerror(errno);
  img::VmaEntry vma;
  vma.set_start(m.page(0));
  vma.set_end(m.page(8));
  vma.set_pgoff(0);
  auto ranges = mem::shmem_data_ranges(object.get(), vma);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].start, m.page(2));
  EXPECT_EQ(ranges[0].end, m.page(4));
  EXPECT_EQ(ranges[1].start, m.page(6));
  EXPECT_EQ(ranges[1].end, m.page(7));
}

TEST(PagePlan, RunsAreConsecutiveInThePagesFile) {
  mem::PagePlan plan{uint64_t(kPage)};
  EXPECT_EQ(plan.add_area({{0x10000, 0x13000}, {0x20000, 0x21000}}), 4u);
  EXPECT_EQ(plan.add_area({{0x30000, 0x32000}}), 2u);
  ASSERT_EQ(plan.runs().size(), 3u);
  EXPECT_EQ(plan.runs()[0].offset(), 0u);
  EXPECT_EQ(plan.runs()[1].offset(), 3u * kPage);
  EXPECT_EQ(plan.runs()[2].vaddr(), 0x30000u);
  EXPECT_EQ(plan.runs()[2].nr_pages(), 2u);
  EXPECT_EQ(plan.runs()[2].offset(), 4u * kPage);
  EXPECT_EQ(plan.pages(), 6u);
  EXPECT_THROW(plan.add_area({{0x31000, 0x40000}}), Error);  // behind the last run
  EXPECT_THROW(plan.add_area({{0x50001, 0x60000}}), Error);  // not page aligned
}

TEST(PagePlan, PagesInAnotherImageNameItAndTakeNoRoomInTheOwn) {
  const uint64_t page = uint64_t(kPage);
  mem::PagePlan plan{page};
  EXPECT_EQ(plan.add_pieces({{{0x10000, 0x12000}, std::nullopt},
                             {{0x12000, 0x15000}, mem::PageLocation{7, 0x40000}},
                             {{0x15000, 0x16000}, std::nullopt}}),
            6u);
  ASSERT_EQ(plan.runs().size(), 3u);
  EXPECT_EQ(plan.runs()[0].offset(), 0u);
  EXPECT_FALSE(plan.runs()[0].has_in_pages_id());
  EXPECT_EQ(plan.runs()[1].in_pages_id(), 7u);
  EXPECT_EQ(plan.runs()[1].offset(), 0x40000u);
  EXPECT_EQ(plan.runs()[1].nr_pages(), 3u);
  EXPECT_EQ(plan.runs()[2].offset(), 2 * page);  // right after the first own run
  EXPECT_EQ(plan.pages(), 3u);
  EXPECT_EQ(plan.bytes(), 3 * page);
  EXPECT_EQ(plan.shared_pages(), 3u);
  ASSERT_EQ(plan.ranges().size(), 2u);  // only the own ones are spliced
  EXPECT_EQ(plan.ranges()[1].start, 0x15000u);
  // Address order holds across both kinds.
  EXPECT_THROW(plan.add_pieces({{{0x14000, 0x17000}, mem::PageLocation{7, 0}}}), Error);
}

TEST(SharedPages, DumpedPagesTellWhereEachPageIs) {
  const uint64_t page = uint64_t(kPage);
  mem::PagePlan plan{page};
  plan.add_pieces({{{0x10000, 0x12000}, std::nullopt}, {{0x20000, 0x23000}, mem::PageLocation{3, 0x8000}}});
  mem::DumpedPages dumped(plan, 9, page);
  EXPECT_EQ(dumped.find(0x11000), (mem::PageLocation{9, page}));
  EXPECT_EQ(dumped.find(0x22000), (mem::PageLocation{3, 0x8000 + 2 * page}));
  EXPECT_FALSE(dumped.find(0x12000));  // between the runs
  EXPECT_FALSE(dumped.find(0x0f000));
  EXPECT_FALSE(dumped.find(0x23000));
}

TEST(SharedPages, OnlyTheSameKnownFrameHeldStillAndDumpedByTheParentIsShared) {
  const uint64_t page = uint64_t(kPage), start = 0x100000;
  auto present = [](uint64_t pfn) { return mem::kPagemapPresent | pfn; };
  mem::PagePlan parent_plan{page};
  // The parent dumped pages 0-5 and 7, page 7 at an offset of its own.
  parent_plan.add_pieces({{{start, start + 6 * page}, std::nullopt},
                          {{start + 7 * page, start + 8 * page}, mem::PageLocation{2, 0x90000}}});
  mem::DumpedPages parent_pages(parent_plan, 1, page);
  //                          shared      other  hidden      swapped  moved   not dumped  shared elsewhere
  uint64_t child[] = {present(10), present(11), present(12), present(0), 1ull << 62, present(15), present(17),
                      present(18)};
  uint64_t parent[] = {present(10), present(11), present(99), present(0), 1ull << 62, present(15), present(17),
                       present(18)};
  uint64_t again[] = {present(10), present(11), present(12), present(0), 1ull << 62, present(16), present(17),
                      present(18)};
  std::vector<mem::PagePiece> out;
  EXPECT_EQ(mem::split_by_frames(start, 8, child, parent, again, parent_pages, page, out), 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].range.start, start);
  EXPECT_EQ(out[0].range.end, start + 2 * page);
  EXPECT_EQ(out[0].in, (mem::PageLocation{1, 0}));
  EXPECT_EQ(out[1].range.end, start + 7 * page);
  EXPECT_FALSE(out[1].in);
  EXPECT_EQ(out[2].in, (mem::PageLocation{2, 0x90000}));
  // The next chunk continues the last piece where it can.
  uint64_t next[] = {present(19)};
  mem::split_by_frames(start + 8 * page, 1, next, next, next, parent_pages, page, out);
  EXPECT_EQ(out.size(), 4u);  // the parent did not dump page 8
  EXPECT_FALSE(out[3].in);
  EXPECT_TRUE(mem::frame_hidden(present(0)));
  EXPECT_FALSE(mem::same_frame(present(0), present(0)));
}

TEST(SharedPages, PagemapReadsAreLargeAndSkipOnlyBigGaps) {
  auto reads = [](std::vector<mem::PageRange> ranges) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const mem::PageRange& r : mem::pagemap_reads(ranges, 0x10000, 0x2000)) out.emplace_back(r.start, r.end);
    return out;
  };
  using V = std::vector<std::pair<uint64_t, uint64_t>>;
  // Close ranges share one read; a big gap starts another.
  EXPECT_EQ(reads({{0x1000, 0x2000}, {0x3000, 0x4000}, {0x6000, 0x7000}, {0x20000, 0x21000}}),
            (V{{0x1000, 0x7000}, {0x20000, 0x21000}}));
  // A long range is cut; the next range joins the last piece if it fits.
  EXPECT_EQ(reads({{0x0, 0x18000}, {0x19000, 0x1a000}}), (V{{0x0, 0x10000}, {0x10000, 0x1a000}}));
  // A read never spans more than max_span: a range that starts at its end
  // starts the next one, one that starts inside is cut.
  EXPECT_EQ(reads({{0x0, 0xf000}, {0x10000, 0x12000}}), (V{{0x0, 0xf000}, {0x10000, 0x12000}}));
  EXPECT_EQ(reads({{0x0, 0xe000}, {0xf000, 0x12000}}), (V{{0x0, 0x10000}, {0x10000, 0x12000}}));
  EXPECT_TRUE(reads({}).empty());
}

// The kernel's view: a forked child maps the very frames of its parent until
// it writes.  (Frame numbers are shown to root only.)
TEST(PageFrames, AForkedChildSharesTheFramesItDidNotWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "frame numbers are shown to root only";
  const uint64_t page = uint64_t(kPage);
  auto* p = static_cast<char*>(mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  memset(p, 'p', 4 * page);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    p[page] = 'c';
    if (write(ready[1], "r", 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  uint64_t start = reinterpret_cast<uint64_t>(p);
  std::vector<uint64_t> ours, theirs;
  mem::PageFrames(getpid(), page).read(start, start + 4 * page, ours);
  mem::PageFrames(child, page).read(start, start + 4 * page, theirs);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  munmap(p, 4 * page);
  ASSERT_EQ(ours.size(), 4u);
  ASSERT_EQ(theirs.size(), 4u);
  EXPECT_TRUE(mem::same_frame(ours[0], theirs[0]));
  EXPECT_FALSE(mem::same_frame(ours[1], theirs[1]));  // copied on the child's write
  EXPECT_TRUE(mem::same_frame(ours[3], theirs[3]));
}

}  // namespace
