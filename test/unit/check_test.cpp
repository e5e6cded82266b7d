// Unit tests of `ckpt check`: the pure parsers (vDSO layout from maps text,
// the in-memory vDSO ELF, /proc/PID/stat fields) and, in the plain build, the
// probe isolation (a crashing or hanging probe is contained and reaped).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "check/mm_layout.h"
#include "check/vdso_layout.h"

using namespace ckpt::check;

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(VdsoLayout, FindsAllThreeSpecialMappings) {
  const char* maps =
      "5581c0a00000-5581c0a2c000 r--p 00000000 fe:01 123    /usr/bin/with space [vdso]\n"
      "7fdb3ae2e000-7fdb3ae32000 r--p 00000000 00:00 0                          [vvar]\n"
      "7fdb3ae32000-7fdb3ae34000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
      "7fdb3ae34000-7fdb3ae36000 r-xp 00000000 00:00 0                          [vdso]\n"
      "7ffc1000000-7ffc1021000 rw-p 00000000 00:00 0                            [stack]\n";
  VdsoLayout l = parse_vdso_layout(maps);
  ASSERT_TRUE(l.vvar && l.vvar_vclock && l.vdso);
  EXPECT_EQ(l.vvar->start, 0x7fdb3ae2e000u);
  EXPECT_EQ(l.vvar->pages(4096), 4u);
  EXPECT_EQ(l.vvar_vclock->start, 0x7fdb3ae32000u);
  EXPECT_EQ(l.vvar_vclock->pages(4096), 2u);
  EXPECT_EQ(l.vdso->start, 0x7fdb3ae34000u);
  EXPECT_EQ(l.vdso->end, 0x7fdb3ae36000u);
}

TEST(VdsoLayout, OlderKernelsHaveNoVclockAndSomeNoVdso) {
  VdsoLayout old = parse_vdso_layout(
      "7fff1000-7fff5000 r--p 00000000 00:00 0 [vvar]\n"
      "7fff5000-7fff7000 r-xp 00000000 00:00 0 [vdso]");  // no final newline
  EXPECT_TRUE(old.vvar && old.vdso);
  EXPECT_FALSE(old.vvar_vclock);
  VdsoLayout none = parse_vdso_layout("00400000-00401000 r-xp 00000000 08:01 5 /bin/true\n");
  EXPECT_FALSE(none.vvar || none.vvar_vclock || none.vdso);
}

TEST(VdsoLayout, IgnoresMalformedLines) {
  VdsoLayout l = parse_vdso_layout(
      "garbage [vdso]\n"
      "7fff5000 r-xp 00000000 00:00 0 [vdso]\n"
      "7fff7000-7fff5000 r-xp 00000000 00:00 0 [vdso]\n"
      "\n");
  EXPECT_FALSE(l.vdso);
}

TEST(VdsoLayout, MatchesOurOwnMaps) {
  VdsoLayout l = parse_vdso_layout(slurp("/proc/self/maps"));
  ASSERT_TRUE(l.vdso);
  EXPECT_EQ(l.vdso->start, getauxval(AT_SYSINFO_EHDR));
}

std::vector<uint8_t> live_vdso() {
  VdsoLayout l = parse_vdso_layout(slurp("/proc/self/maps"));
  if (!l.vdso) return {};
  auto* p = reinterpret_cast<const uint8_t*>(l.vdso->start);
  return std::vector<uint8_t>(p, p + (l.vdso->end - l.vdso->start));
}

TEST(VdsoElf, FindsClockGettimeInTheLiveVdso) {
  std::vector<uint8_t> image = live_vdso();
  ASSERT_FALSE(image.empty());
  ElfImage elf(image.data(), image.size());
  EXPECT_GT(elf.symbol_count(), 1u);
  auto off = elf.symbol("__vdso_clock_gettime");
  ASSERT_TRUE(off);
  EXPECT_LT(*off, image.size());
  EXPECT_TRUE(elf.symbol("__vdso_gettimeofday"));
  EXPECT_FALSE(elf.symbol("__vdso_no_such_symbol"));
  EXPECT_FALSE(elf.symbol("__vdso_clock_gettim"));  // a prefix is not a match
}

TEST(VdsoElf, RejectsWhatIsNotAnElf) {
  std::vector<uint8_t> zeros(8192);
  EXPECT_THROW(ElfImage(zeros.data(), zeros.size()), ckpt::Error);
  std::vector<uint8_t> image = live_vdso();
  ASSERT_FALSE(image.empty());
  EXPECT_THROW(ElfImage(image.data(), 16), ckpt::Error);  // shorter than a header
}

TEST(VdsoElf, BoundsChecksCorruptHeaders) {
  std::vector<uint8_t> image = live_vdso();
  ASSERT_FALSE(image.empty());
  auto* eh = reinterpret_cast<Elf64_Ehdr*>(image.data());
  eh->e_phoff = image.size() - 8;  // program headers run off the end
  EXPECT_THROW(ElfImage(image.data(), image.size()), ckpt::Error);

  image = live_vdso();
  // Cut the image right after the program headers: the dynamic section and
  // the symbols are gone.
  eh = reinterpret_cast<Elf64_Ehdr*>(image.data());
  size_t cut = eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr);
  EXPECT_THROW(ElfImage(image.data(), cut), ckpt::Error);
}

TEST(MmLayout, CountsFieldsAfterTheCommandName) {
  std::string stat = "42 (a) b) (c) R 1 2 3";
  EXPECT_EQ(stat_field(stat, 4), 1u);
  EXPECT_EQ(stat_field(stat, 6), 3u);
  EXPECT_FALSE(stat_field(stat, 3));   // "R" is not a number
  EXPECT_FALSE(stat_field(stat, 7));   // past the end
  EXPECT_FALSE(stat_field(stat, 2));   // the name itself is never a number
  EXPECT_FALSE(stat_field("no parens 1 2 3", 4));
}

TEST(MmLayout, ParsesOurOwnStat) {
  auto m = parse_stat_mm(slurp("/proc/self/stat"));
  ASSERT_TRUE(m);
  EXPECT_LT(m->start_code, m->end_code);
  EXPECT_LE(m->start_data, m->end_data);
  EXPECT_LT(m->arg_start, m->arg_end);
  EXPECT_LE(m->env_start, m->env_end);
  EXPECT_NE(m->start_stack, 0u);
  EXPECT_EQ(m->exe_fd, static_cast<__u32>(-1));
  EXPECT_FALSE(parse_stat_mm("1 (x) R 1 2 3"));  // truncated
}

}  // namespace

// The AddressSanitizer variant of the unit tests compiles only the image,
// cli, util and proc sources, not src/check/*.cpp; the tests below need
// those and run in the plain variant.
#if !defined(__SANITIZE_ADDRESS__)
#include "check/isolate.h"
#include "check/probe.h"
#include "ckpt/error.h"

namespace {

// Shared with the probe child, which is a separate process.
pid_t* shared_pid() {
  static pid_t* p = static_cast<pid_t*>(
      mmap(nullptr, sizeof(pid_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  return p;
}

std::string ok_body() { return "fine"; }
std::string missing_body() { throw ckpt::Error("no such facility"); }
std::string crashing_body() {
  raise(SIGSEGV);
  return {};
}
std::string hanging_body_with_helper() {
  Child helper;  // a grandchild that must not outlive the killed probe
  *shared_pid() = helper.pid();
  for (;;) pause();
}

bool no_children_left() {
  int status;
  return waitpid(-1, &status, __WALL | WNOHANG) < 0 && errno == ECHILD;
}

TEST(Isolation, ReportsOkAndMissing) {
  Outcome ok = run_isolated(ok_body, Millis(2000));
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.message, "fine");
  Outcome missing = run_isolated(missing_body, Millis(2000));
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.message, "no such facility");
  EXPECT_TRUE(no_children_left());
}

TEST(Isolation, ContainsACrash) {
  Outcome out = run_isolated(crashing_body, Millis(2000));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.message.find("crashed"), std::string::npos) << out.message;
  EXPECT_TRUE(no_children_left());
}

TEST(Isolation, KillsAHangAndItsHelpers) {
  become_reaper();  // the orphaned helper must come back to us to be reaped
  *shared_pid() = 0;
  auto start = std::chrono::steady_clock::now();
  Outcome out = run_isolated(hanging_body_with_helper, Millis(200));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.message.find("hung"), std::string::npos) << out.message;
  EXPECT_LT(took, std::chrono::seconds(2));
  ASSERT_GT(*shared_pid(), 0);
  EXPECT_EQ(kill(*shared_pid(), 0), -1);  // the helper is gone, not a zombie
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(no_children_left());
}

TEST(ProbeTable, NamesAreUniqueKebabCaseAndFindable) {
  std::set<std::string> names;
  for (const Probe& p : all_probes()) {
    std::string name = p.name;
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"), std::string::npos) << name;
    EXPECT_TRUE(p.description && *p.description && p.breaks && *p.breaks && p.body) << name;
    EXPECT_EQ(find_probe(name), &p);
  }
  EXPECT_TRUE(names.count("pagemap-scan") && names.count("clone3-set-tid") && names.count("vdso"));
  EXPECT_EQ(find_probe("nonsense"), nullptr);
}

}  // namespace
#endif
