// What ckpt builds for the restorer, read by the blob's own reader.
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cstring>
#include <memory>

#include "proc/maps.h"
#include "proc/read.h"
#include "restore/args_fill.h"
#include "ckpt/sigframe.h"

extern "C" {
#include "restorer.h"
extern jmp_buf restorer_test_jump;
extern uint32_t restorer_test_step;
extern uint64_t restorer_test_arg0;
}

using namespace ckpt;
using namespace ckpt::restore;

namespace {

img::ThreadCoreEntry thread_core(uint32_t tid, int pending = 0, int groups = 0) {
  img::ThreadCoreEntry t;
  t.set_tid(tid);
  img::X86GpRegs& g = *t.mutable_gpregs();
  for (auto f : {&img::X86GpRegs::set_r15, &img::X86GpRegs::set_r14, &img::X86GpRegs::set_r13,
                  &img::X86GpRegs::set_r12, &img::X86GpRegs::set_bp, &img::X86GpRegs::set_bx,
                  &img::X86GpRegs::set_r11, &img::X86GpRegs::set_r10, &img::X86GpRegs::set_r9,
                  &img::X86GpRegs::set_r8, &img::X86GpRegs::set_ax, &img::X86GpRegs::set_cx,
                  &img::X86GpRegs::set_dx, &img::X86GpRegs::set_si, &img::X86GpRegs::set_di,
                  &img::X86GpRegs::set_orig_ax, &img::X86GpRegs::set_ip, &img::X86GpRegs::set_cs,
                  &img::X86GpRegs::set_flags, &img::X86GpRegs::set_sp, &img::X86GpRegs::set_ss,
                  &img::X86GpRegs::set_fs_base, &img::X86GpRegs::set_gs_base, &img::X86GpRegs::set_ds,
                  &img::X86GpRegs::set_es, &img::X86GpRegs::set_fs, &img::X86GpRegs::set_gs})
    (g.*f)(0);
  g.set_ip(0x401000 + tid);
  g.set_orig_ax(uint64_t(-1));
  t.set_blocked(uint64_t(1) << tid % 64);
  t.set_comm("t" + std::to_string(tid));
  for (int i = 0; i < pending; i++) {
    std::string si(128, '\0');
    int32_t signo = 10 + i;
    std::memcpy(si.data(), &signo, 4);
    t.add_pending()->set_siginfo(si);
  }
  if (groups) {
    img::CredsEntry& c = *t.mutable_creds();
    c.set_uid(1000 + tid); c.set_euid(1000); c.set_suid(1000); c.set_fsuid(1000);
    c.set_gid(1000); c.set_egid(1000); c.set_sgid(1000); c.set_fsgid(1000);
    for (int i = 0; i < groups; i++) c.add_groups(uint32_t(2000 + i));
    c.set_cap_inh(0); c.set_cap_prm(0); c.set_cap_eff(0); c.set_cap_bnd(0); c.set_securebits(0);
  }
  return t;
}

ProcessImage process(int threads, int groups) {
  ProcessImage p;
  p.pstree.set_pid(100);
  img::ProcessCoreEntry& pc = *p.core.mutable_process();
  pc.set_personality(0);
  pc.set_umask(022);
  for (int i = 0; i < threads; i++) p.threads.push_back(thread_core(uint32_t(100 + i), i % 3, i == 1 ? groups : 0));
  *p.core.mutable_thread() = p.threads[0];
  for (int i = 0; i < 8; i++) {
    img::VmaEntry v;
    v.set_start(0x10000000 + uint64_t(i) * 0x10000);
    v.set_end(v.start() + 0x4000);
    v.set_kind(img::VMA_ANON_PRIVATE);
    v.set_prot(3);
    p.vmas.push_back(v);
  }
  return p;
}

struct Built {
  ArgsImage args;
  AreaLayout layout;
};

Built build(const ProcessImage& p) {
  static HelperFiles helpers;
  static Tuning tuning;
  static std::vector<proc::MapsEntry> maps = proc::parse_maps(proc::read_file("/proc/self/maps"), "maps");
  ArgsInputs in{};
  in.image = &p;
  in.helper_fd_first = 100;
  in.helpers = &helpers;
  in.our_vdso = vdso_parts(maps);
  in.task_size = (1ull << 47) - 4096;
  in.tuning = &tuning;
  Built b;
  b.layout = area_layout(in);
  b.args = build_args(in, b.layout);
  return b;
}

// The blob's reader over a copy (8-aligned, as in the area).  The view
// points into the copy, so both live together here.
struct BlobRead {
  std::vector<uint64_t> aligned;
  restorer_view view{};
  uint32_t step = 0;  // the step it refused at, or 0
  ckpt_restorer_args* args() { return reinterpret_cast<ckpt_restorer_args*>(aligned.data()); }
};

std::unique_ptr<BlobRead> read_back(const std::vector<uint8_t>& bytes) {
  auto r = std::make_unique<BlobRead>();
  r->aligned.resize((bytes.size() + 7) / 8 + 64);
  std::memcpy(r->aligned.data(), bytes.data(), bytes.size());
  restorer_test_step = 0;
  if (setjmp(restorer_test_jump) == 0) restorer_read_args(r->args(), &r->view);
  r->step = restorer_test_step;
  return r;
}

uint32_t blob_reads(const std::vector<uint8_t>& bytes) { return read_back(bytes)->step; }

}  // namespace

TEST(RestorerArgs, TheBlobReadsWhatCkptBuilds) {
  ProcessImage p = process(5, 3);
  Built b = build(p);
  auto read = read_back(b.args.bytes);
  ckpt_restorer_args* a = read->args();
  const restorer_view& v = read->view;
  ASSERT_EQ(read->step, 0u);
  EXPECT_EQ(a->nr_threads, 5u);
  EXPECT_EQ(v.nr_vmas, 8u);
  EXPECT_EQ(v.vmas[3].start, 0x10030000u);
  ASSERT_NE(v.sigactions, nullptr);
  ASSERT_NE(v.proc, nullptr);
  // Every thread, in order, with its own pending signals and groups.
  int i = 0;
  for (ckpt_restorer_thread* t = restorer_next_thread(a, nullptr); t; t = restorer_next_thread(a, t), i++) {
    EXPECT_EQ(t->tid, 100 + i);
    EXPECT_EQ(bool(t->flags & CKPT_THREAD_MAIN), i == 0);
    EXPECT_STREQ(t->comm, ("t" + std::to_string(100 + i)).c_str());
    ASSERT_EQ(t->nr_pending, uint32_t(i % 3));
    for (uint32_t k = 0; k < t->nr_pending; k++) EXPECT_EQ(restorer_thread_pending(t)[k].signo, int32_t(10 + k));
    if (i == 1) {
      ASSERT_EQ(t->creds.ngroups, 3u);
      EXPECT_EQ(restorer_thread_groups(t)[2], 2002u);
    }
    // Its frame: 64-byte aligned in the area, holding its registers.
    uint64_t frame_in_args = t->sigframe - b.layout.args_off;
    EXPECT_EQ(t->sigframe % 64, 0u);
    ckpt_rt_sigframe frame;
    std::memcpy(&frame, reinterpret_cast<const uint8_t*>(read->aligned.data()) + frame_in_args, sizeof(frame));
    EXPECT_EQ(frame.uc.uc_mcontext.ip, 0x401000u + 100 + uint64_t(i));
    EXPECT_EQ(frame.uc.uc_sigmask, uint64_t(1) << (100 + i) % 64);
    // Its stack: inside the area's stacks, each its own.
    EXPECT_GT(t->stack_top, b.layout.stack_off);
    EXPECT_LE(t->stack_top, b.layout.stack_off + b.layout.stack_size);
  }
  EXPECT_EQ(i, 5);
}

TEST(RestorerArgs, ManyThreadsAndGroupsHaveNoLimit) {
  ProcessImage p = process(600, 5000);
  Built b = build(p);
  EXPECT_EQ(blob_reads(b.args.bytes), 0u);
  EXPECT_GE(b.layout.stack_size, 600u * CKPT_RESTORER_THREAD_STACK);
}

TEST(RestorerArgs, TheBlobRefusesDamagedArgs) {
  Built b = build(process(3, 2));
  const std::vector<uint8_t>& good = b.args.bytes;
  ASSERT_EQ(blob_reads(good), 0u);

  std::vector<uint8_t> bad = good;
  reinterpret_cast<ckpt_restorer_args*>(bad.data())->version++;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // A section longer than the whole.
  bad = good;
  auto* first = reinterpret_cast<ckpt_restorer_section*>(bad.data() + sizeof(ckpt_restorer_args));
  first->size = bad.size();
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // An array whose size is not its count of elements.
  bad = good;
  first = reinterpret_cast<ckpt_restorer_section*>(bad.data() + sizeof(ckpt_restorer_args));
  ASSERT_EQ(first->tag, uint32_t(CKPT_SECTION_PROCESS));
  auto* second = reinterpret_cast<ckpt_restorer_section*>(reinterpret_cast<uint8_t*>(first + 1) + first->size);
  ASSERT_EQ(second->tag, uint32_t(CKPT_SECTION_AUXV));
  second->count += 1;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // A tag this blob does not know, and a thread count that disagrees.
  bad = good;
  reinterpret_cast<ckpt_restorer_section*>(bad.data() + sizeof(ckpt_restorer_args))->tag = 999;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));
  EXPECT_EQ(restorer_test_arg0, 999u);
  bad = good;
  reinterpret_cast<ckpt_restorer_args*>(bad.data())->nr_threads = 4;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // Cut short: the sections no longer tile the whole.
  bad = good;
  reinterpret_cast<ckpt_restorer_args*>(bad.data())->total_size -= 8;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));
}

namespace {

// n instructions whose k says which filter and which instruction it is.
img::SeccompFilterEntry filter(uint32_t id, uint32_t n, uint32_t flags) {
  std::vector<ckpt_sock_filter> insns(n);
  for (uint32_t k = 0; k < n; k++) insns[k] = {6 /* BPF_RET|BPF_K */, 0, 0, id * 1000 + k};
  img::SeccompFilterEntry f;
  f.set_insns(std::string(reinterpret_cast<const char*>(insns.data()), n * sizeof(ckpt_sock_filter)));
  f.set_flags(flags);
  return f;
}

// The SECCOMP section of the thread, found in a copy of the bytes.
ckpt_restorer_section* seccomp_section_of(std::vector<uint8_t>& bytes, int32_t tid) {
  auto* a = reinterpret_cast<ckpt_restorer_args*>(bytes.data());
  uint8_t* at = bytes.data() + a->header_size;
  for (uint32_t i = 0; i < a->nr_sections; i++) {
    auto* s = reinterpret_cast<ckpt_restorer_section*>(at);
    if (s->tag == CKPT_SECTION_SECCOMP && reinterpret_cast<ckpt_restorer_seccomp*>(s + 1)->tid == tid) return s;
    at += sizeof(*s) + s->size;
  }
  return nullptr;
}

ProcessImage seccomp_process() {
  ProcessImage p = process(3, 0);
  // Thread 101: two filters, the oldest first; 100 and 102: none.
  p.threads[1].set_seccomp_mode(2);
  *p.threads[1].add_seccomp_filters() = filter(1, 3, 0);
  *p.threads[1].add_seccomp_filters() = filter(2, 5, 2 /* LOG */);
  return p;
}

}  // namespace

TEST(RestorerArgs, EachThreadFindsItsOwnSeccompFilters) {
  ProcessImage p = seccomp_process();
  Built b = build(p);
  auto read = read_back(b.args.bytes);
  const restorer_view& v = read->view;
  ASSERT_EQ(read->step, 0u);
  EXPECT_EQ(v.nr_seccomp, 1u);
  EXPECT_EQ(restorer_thread_seccomp(&v, 100), nullptr);
  EXPECT_EQ(restorer_thread_seccomp(&v, 102), nullptr);
  const ckpt_restorer_seccomp* sc = restorer_thread_seccomp(&v, 101);
  ASSERT_NE(sc, nullptr);
  ASSERT_EQ(sc->nr_filters, 2u);
  const auto* f = reinterpret_cast<const ckpt_restorer_seccomp_filter*>(sc + 1);
  EXPECT_EQ(f->flags, 0u);
  ASSERT_EQ(f->len, 3u);
  EXPECT_EQ(reinterpret_cast<const ckpt_sock_filter*>(f + 1)[2].k, 1002u);
  f = reinterpret_cast<const ckpt_restorer_seccomp_filter*>(reinterpret_cast<const ckpt_sock_filter*>(f + 1) + 3);
  EXPECT_EQ(f->flags, 2u);
  ASSERT_EQ(f->len, 5u);
  EXPECT_EQ(reinterpret_cast<const ckpt_sock_filter*>(f + 1)[0].k, 2000u);
  EXPECT_EQ(reinterpret_cast<const ckpt_sock_filter*>(f + 1)[4].k, 2004u);
}

TEST(RestorerArgs, TheBlobRefusesDamagedSeccompSections) {
  Built b = build(seccomp_process());
  const std::vector<uint8_t>& good = b.args.bytes;
  ASSERT_EQ(blob_reads(good), 0u);

  // A filter count that is not the section's.
  std::vector<uint8_t> bad = good;
  ckpt_restorer_section* s = seccomp_section_of(bad, 101);
  ASSERT_NE(s, nullptr);
  reinterpret_cast<ckpt_restorer_seccomp*>(s + 1)->nr_filters = 3;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));
  EXPECT_EQ(restorer_test_arg0, uint64_t(CKPT_SECTION_SECCOMP));

  // A filter longer than what is left of the section.
  bad = good;
  s = seccomp_section_of(bad, 101);
  reinterpret_cast<ckpt_restorer_seccomp_filter*>(reinterpret_cast<ckpt_restorer_seccomp*>(s + 1) + 1)->len = 9;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // An empty filter, and TSYNC.
  bad = good;
  s = seccomp_section_of(bad, 101);
  reinterpret_cast<ckpt_restorer_seccomp_filter*>(reinterpret_cast<ckpt_restorer_seccomp*>(s + 1) + 1)->len = 0;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));
  bad = good;
  s = seccomp_section_of(bad, 101);
  reinterpret_cast<ckpt_restorer_seccomp_filter*>(reinterpret_cast<ckpt_restorer_seccomp*>(s + 1) + 1)->flags = 1;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));

  // Filters of a tid that is none of the process's threads.
  bad = good;
  s = seccomp_section_of(bad, 101);
  reinterpret_cast<ckpt_restorer_seccomp*>(s + 1)->tid = 4242;
  EXPECT_EQ(blob_reads(bad), uint32_t(CKPT_STEP_VERSION));
  EXPECT_EQ(restorer_test_arg0, uint64_t(CKPT_SECTION_SECCOMP));
}

// Each thread's prctl state reaches the blob by tid; a speculation control
// is only set where the thread could choose it (PR_SPEC_PRCTL), L1D
// flushing's "force-disabled" meaning merely off.
TEST(RestorerArgs, EachThreadFindsItsOwnPrctlState) {
  ProcessImage p = process(3, 0);
  p.core.mutable_process()->set_pdeath_sig(7);  // an older image: the main thread's only
  p.threads[1].set_pdeath_sig(SIGUSR2);
  p.threads[1].set_timer_slack_ns(123456);
  p.threads[1].set_tsc(PR_TSC_SIGSEGV);
  p.threads[1].set_mce_kill(PR_MCE_KILL_EARLY);
  p.threads[2].set_mce_kill(PR_MCE_KILL_DEFAULT);
  img::SpeculationEntry& s = *p.threads[1].mutable_speculation();
  s.set_store_bypass(PR_SPEC_PRCTL | PR_SPEC_DISABLE);
  s.set_indirect_branch(PR_SPEC_ENABLE);  // the system's choice
  s.set_l1d_flush(PR_SPEC_PRCTL | PR_SPEC_FORCE_DISABLE);
  Built b = build(p);
  auto read = read_back(b.args.bytes);
  ASSERT_EQ(read->step, 0u);
  const restorer_view& v = read->view;
  ASSERT_EQ(v.nr_thread_prctl, 3u);
  const ckpt_restorer_thread_prctl* main = &v.thread_prctl[0];
  const ckpt_restorer_thread_prctl* t = &v.thread_prctl[1];
  EXPECT_EQ(main->tid, 100);
  EXPECT_EQ(main->pdeath_sig, 7);
  EXPECT_EQ(t->tid, 101);
  EXPECT_EQ(t->pdeath_sig, SIGUSR2);
  EXPECT_EQ(t->timer_slack_ns, 123456u);
  EXPECT_EQ(t->spec_set[PR_SPEC_STORE_BYPASS], uint32_t(PR_SPEC_DISABLE));
  EXPECT_EQ(t->spec_want[PR_SPEC_STORE_BYPASS], uint32_t(PR_SPEC_PRCTL | PR_SPEC_DISABLE));
  EXPECT_EQ(t->spec_set[PR_SPEC_INDIRECT_BRANCH], 0u);
  EXPECT_EQ(t->spec_set[PR_SPEC_L1D_FLUSH], uint32_t(PR_SPEC_DISABLE));
  EXPECT_EQ(t->tsc, PR_TSC_SIGSEGV);
  EXPECT_EQ(t->mce_kill, PR_MCE_KILL_EARLY);
  EXPECT_EQ(t->cpuid, -1);
  EXPECT_EQ(main->tsc, 0);
  EXPECT_EQ(v.thread_prctl[2].mce_kill, -1);
  EXPECT_EQ(v.thread_prctl[2].pdeath_sig, 0);
  EXPECT_EQ(v.thread_prctl[2].spec_set[0], 0u);
}
