#include "restore/args_fill.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "blob.h"
#include "ckpt/error.h"
#include "ckpt/log.h"
#include "mem/mman_uapi.h"
#include "mem/numa_policy.h"
#include "proc/read.h"
#include "proc/status.h"
#include "ckpt/sigframe.h"
#include "task/prctl.h"

namespace ckpt::restore {

namespace {
// memcpy with a null source is undefined even for 0 bytes, and an empty
// std::vector's data() is null: every copy of an array that may be empty
// (no POSIX timers, no groups, no vDSO parts) goes through here.
void copy_bytes(void* to, const void* from, size_t size) {
  if (size) std::memcpy(to, from, size);
}

uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t(7); }

bool blob_maps(const img::VmaEntry& v) {
  return v.kind() == img::VMA_ANON_PRIVATE || v.kind() == img::VMA_ANON_SHARED || v.kind() == img::VMA_FILE_PRIVATE ||
         v.kind() == img::VMA_FILE_SHARED;
}

// madvise() advice that sticks to an area as a flag; others (DONTNEED...)
// would destroy data and are never replayed.  (RANDOM and SEQUENTIAL are
// the read-ahead hints of smaps "rr" and "sr".)
constexpr uint64_t kStickyAdvice = (1ull << MADV_RANDOM) | (1ull << MADV_SEQUENTIAL) | (1ull << MADV_DONTFORK) | (1ull << MADV_DOFORK) | (1ull << MADV_MERGEABLE) |
                                   (1ull << MADV_UNMERGEABLE) | (1ull << MADV_HUGEPAGE) | (1ull << MADV_NOHUGEPAGE) |
                                   (1ull << MADV_DONTDUMP) | (1ull << MADV_DODUMP) | (1ull << MADV_WIPEONFORK) |
                                   (1ull << MADV_KEEPONFORK);

bool droppable(const img::VmaEntry& v) { return (v.flags() & MAP_TYPE) == MAP_DROPPABLE; }

// UFFDIO_COPY fills anonymous private memory only (userfaultfd's missing
// mode takes no file-backed private areas, and shared memory gains nothing),
// and not locked memory, which mmap already fills with zero pages, nor
// droppable memory, which userfaultfd refuses to register.
bool filled_by_uffd(const img::VmaEntry& v) {
  return v.kind() == img::VMA_ANON_PRIVATE && !(v.flags() & MAP_LOCKED) && !droppable(v);
}

// The index of the area holding `at` from `vi` on (runs lie inside areas,
// checked at load), or vmas.size().
size_t area_at(const ProcessImage& p, size_t vi, uint64_t at) {
  while (vi < p.vmas.size() && p.vmas[vi].end() <= at) vi++;
  return vi;
}

// The helper fd a run reads from if it is not the process's own pages image.
int32_t other_image_fd(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                       const ProcessImage::Run& r) {
  if (p.own(r)) return -1;
  auto other = h.other_pages.find(r.pages_id);
  if (other == h.other_pages.end())
    throw Error(format("cannot restore pid %d: pages-%u.img, which its pages at 0x%llx are in, is not open", p.pid(),
                       r.pages_id, (unsigned long long)r.vaddr));
  return helper_fd_first + other->second.slot;
}

// The sections, appended in order; each payload 8-byte aligned (or more,
// with a padding section before it).
class SectionWriter {
 public:
  SectionWriter() : bytes_(sizeof(ckpt_restorer_args)) {}

  // Appends a section of `size` bytes; returns the offset of its payload.
  uint64_t add(uint32_t tag, uint32_t count, const void* data, size_t size, size_t align = 8) {
    pad_to(align);
    uint64_t at = append_header(tag, count, size);
    if (data && size) copy_bytes(bytes_.data() + at, data, size);
    return at;
  }
  template <class T>
  uint64_t add_array(uint32_t tag, const std::vector<T>& items) {
    return add(tag, uint32_t(items.size()), items.data(), items.size() * sizeof(T));
  }
  uint64_t reserve(uint32_t tag, uint32_t count, size_t size, size_t align = 8) {
    return add(tag, count, nullptr, size, align);
  }
  uint64_t size() const { return bytes_.size(); }
  uint8_t* at(uint64_t off) { return bytes_.data() + off; }
  uint32_t sections() const { return nr_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  uint64_t append_header(uint32_t tag, uint32_t count, size_t size) {
    ckpt_restorer_section h{tag, count, align8(size)};
    size_t at = bytes_.size();
    bytes_.resize(at + sizeof(h) + h.size);
    copy_bytes(bytes_.data() + at, &h, sizeof(h));
    nr_++;
    return at + sizeof(h);
  }
  // A padding section so that the next payload lands on `align`.
  void pad_to(size_t align) {
    uint64_t next = bytes_.size() + sizeof(ckpt_restorer_section);
    if (next % align == 0) return;
    uint64_t pad = (align - (next + sizeof(ckpt_restorer_section)) % align) % align;
    append_header(CKPT_SECTION_PAD, 0, pad);
  }

  std::vector<uint8_t> bytes_;
  uint32_t nr_ = 0;
};

uint64_t signal_bit(const img::SiginfoEntry& s) {
  int32_t signo = 0;
  copy_bytes(&signo, s.siginfo().data(), std::min<size_t>(sizeof(signo), s.siginfo().size()));
  return signo >= 1 && signo <= 64 ? uint64_t(1) << (signo - 1) : 0;
}

// `shared_pending`: the process's pending signals, as a mask.
FrameInput frame_input(const img::ThreadCoreEntry& t, uint64_t shared_pending) {
  const img::X86GpRegs& g = t.gpregs();
  FrameInput in;
  user_regs_struct& r = in.regs;
  r.r15 = g.r15(); r.r14 = g.r14(); r.r13 = g.r13(); r.r12 = g.r12(); r.rbp = g.bp(); r.rbx = g.bx();
  r.r11 = g.r11(); r.r10 = g.r10(); r.r9 = g.r9(); r.r8 = g.r8(); r.rax = g.ax(); r.rcx = g.cx();
  r.rdx = g.dx(); r.rsi = g.si(); r.rdi = g.di(); r.orig_rax = g.orig_ax(); r.rip = g.ip(); r.cs = g.cs();
  r.eflags = g.flags(); r.rsp = g.sp(); r.ss = g.ss(); r.fs_base = g.fs_base(); r.gs_base = g.gs_base();
  r.ds = g.ds(); r.es = g.es(); r.fs = g.fs(); r.gs = g.gs();
  settle_interrupted_syscall(r);
  uint64_t pending = shared_pending;
  for (const img::SiginfoEntry& si : t.pending()) pending |= signal_bit(si);
  restart_eintr_of_the_freeze(r, pending & ~t.blocked());
  if (t.has_xsave()) in.xsave.assign(t.xsave().begin(), t.xsave().end());
  else if (t.has_fpregs()) in.fxsave.assign(t.fpregs().begin(), t.fpregs().end());
  in.blocked = t.blocked();
  if (t.has_altstack()) {
    in.has_altstack = true;
    in.altstack_sp = t.altstack().sp();
    in.altstack_flags = t.altstack().flags();
    in.altstack_size = t.altstack().size();
  }
  return in;
}

ckpt_restorer_mm make_mm(const ProcessImage& p, const ArgsInputs& in) {
  const img::MmEntry& m = p.mm;
  ckpt_restorer_mm mm{};
  mm.start_code = m.start_code(); mm.end_code = m.end_code();
  mm.start_data = m.start_data(); mm.end_data = m.end_data();
  mm.start_brk = m.start_brk(); mm.brk = m.brk(); mm.start_stack = m.start_stack();
  mm.arg_start = m.arg_start(); mm.arg_end = m.arg_end();
  mm.env_start = m.env_start(); mm.env_end = m.env_end();
  mm.exe_fd = in.helpers->exe_slot >= 0 ? in.helper_fd_first + in.helpers->exe_slot : -1;
  return mm;
}

// The kernel keeps at most this many auxv words (AT_VECTOR_SIZE on x86_64
// is 2 * (2 + 20 + 1 + ...): PR_SET_MM_MAP refuses more).
constexpr int kMaxAuxvWords = 128;

std::vector<uint64_t> auxv_words(const ProcessImage& p) {
  if (p.mm.auxv_size() > kMaxAuxvWords)
    throw Error(format("cannot restore pid %d: its auxiliary vector has %d words, more than the kernel keeps",
                       p.pid(), p.mm.auxv_size()));
  return {p.mm.auxv().begin(), p.mm.auxv().end()};
}

// A hard limit above ours cannot be raised without CAP_SYS_RESOURCE: the
// process gets ours, with a warning, rather than no restore at all.
std::vector<ckpt_restorer_rlimit> rlimits(const ProcessImage& p) {
  std::vector<ckpt_restorer_rlimit> out;
  for (const img::RlimitEntry& r : p.core.process().rlimits()) {
    if (r.resource() >= RLIM_NLIMITS) continue;
    struct rlimit ours;
    if (getrlimit(__rlimit_resource(r.resource()), &ours) < 0) continue;
    uint64_t cur = r.cur(), max = r.max();
    if (max > ours.rlim_max) {
      LOG_WARN("pid %d had a hard limit of %llu for resource %u; it gets %llu (raising it needs CAP_SYS_RESOURCE)",
               p.pid(), (unsigned long long)max, r.resource(), (unsigned long long)ours.rlim_max);
      max = ours.rlim_max;
      cur = std::min<uint64_t>(cur, max);
    }
    out.push_back({r.resource(), 0, cur, max});
  }
  return out;
}

std::vector<ckpt_k_sigaction> sigactions(const ProcessImage& p) {
  std::vector<ckpt_k_sigaction> out(CKPT_RESTORER_NSIG);
  for (const img::SigactionEntry& s : p.core.process().sigactions())
    if (s.signo() >= 1 && s.signo() <= CKPT_RESTORER_NSIG)
      out[s.signo() - 1] = {s.handler(), s.flags(), s.restorer(), s.mask()};
  return out;
}

// A periodic timer that just fired reads as 0 left until its SIGALRM is
// taken (the kernel re-arms it then); setitimer(0) would disarm it, so it
// gets a full interval instead.
ckpt_k_itimerval itimer(const img::ItimerEntry& e) {
  ckpt_k_itimerval t{e.interval_sec(), e.interval_usec(), e.value_sec(), e.value_usec()};
  if (!t.value_sec && !t.value_usec) {
    t.value_sec = t.interval_sec;
    t.value_usec = t.interval_usec;
  }
  return t;
}

bool has_thread(const ProcessImage& p, int tid) {
  return std::any_of(p.threads.begin(), p.threads.end(),
                     [&](const img::ThreadCoreEntry& t) { return int(t.tid()) == tid && !t.exited(); });
}

// The POSIX timers in id order (the blob's fallback without
// PR_TIMER_CREATE_RESTORE_IDS creates them in that order), checked here so
// that ckpt names what is wrong with the image, not a failed syscall.
std::vector<ckpt_restorer_posix_timer> posix_timers(const ProcessImage& p) {
  std::vector<ckpt_restorer_posix_timer> out;
  for (const img::PosixTimerEntry& e : p.core.process().posix_timers()) {
    if (e.timer_id() < 0 || e.interval_nsec() >= 1000000000 || e.value_nsec() >= 1000000000)
      throw Error(format("cannot restore pid %d: its POSIX timer %d is corrupt in the image", p.pid(), e.timer_id()));
    if ((e.notify() & SIGEV_THREAD_ID) && !has_thread(p, e.notify_tid()))
      throw Error(format("cannot restore pid %d: its POSIX timer %d signals thread %d, which is not among its threads",
                         p.pid(), e.timer_id(), e.notify_tid()));
    ckpt_restorer_posix_timer t{};
    t.id = e.timer_id();
    t.clock_id = e.clock_id();
    t.notify = e.notify();
    t.signo = e.signo();
    t.notify_tid = e.notify_tid();
    t.sigval = e.sigval();
    t.interval_sec = e.interval_sec();
    t.interval_nsec = e.interval_nsec();
    t.value_sec = e.value_sec();
    t.value_nsec = e.value_nsec();
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (size_t i = 1; i < out.size(); i++)
    if (out[i].id == out[i - 1].id)
      throw Error(format("cannot restore pid %d: its POSIX timer %d is twice in the image", p.pid(), out[i].id));
  return out;
}

std::vector<ckpt_restorer_siginfo> siginfos(const google::protobuf::RepeatedPtrField<img::SiginfoEntry>& in,
                                            bool shared) {
  std::vector<ckpt_restorer_siginfo> out;
  for (const img::SiginfoEntry& s : in) {
    ckpt_restorer_siginfo si{};
    copy_bytes(si.raw, s.siginfo().data(), std::min(s.siginfo().size(), sizeof(si.raw)));
    copy_bytes(&si.signo, si.raw, sizeof(int32_t));
    si.shared = shared;
    out.push_back(si);
  }
  return out;
}

// What ckpt itself runs with, which a thread keeps if its own are the same.
struct OwnCreds {
  proc::Status status;
  int securebits = 0;
  uint32_t last_cap = 40;
};

OwnCreds own_creds() {
  OwnCreds c;
  c.status = proc::parse_status(proc::read_file("/proc/self/status"), "/proc/self/status");
  c.securebits = prctl(PR_GET_SECUREBITS);
  try {
    c.last_cap = uint32_t(std::stoi(proc::read_file("/proc/sys/kernel/cap_last_cap")));
  } catch (const std::exception&) {
  }
  return c;
}

// Credentials are only replayed when they differ from ckpt's own: for a
// root target restored by root, nothing to do (and nothing to get wrong).
ckpt_restorer_creds thread_creds(const img::ThreadCoreEntry& t, const OwnCreds& own, std::vector<uint32_t>& groups) {
  ckpt_restorer_creds c{};
  if (!t.has_creds()) return c;
  const img::CredsEntry& cr = t.creds();
  const proc::Status& me = own.status;
  groups.assign(cr.groups().begin(), cr.groups().end());
  bool same = me.uid[0] == cr.uid() && me.uid[1] == cr.euid() && me.uid[2] == cr.suid() && me.uid[3] == cr.fsuid() &&
              me.gid[0] == cr.gid() && me.gid[1] == cr.egid() && me.gid[2] == cr.sgid() && me.gid[3] == cr.fsgid() &&
              me.groups == groups && me.cap_inh == cr.cap_inh() && me.cap_prm == cr.cap_prm() &&
              me.cap_eff == cr.cap_eff() && me.cap_bnd == cr.cap_bnd() && me.cap_amb == cr.cap_amb() &&
              uint32_t(own.securebits) == cr.securebits() && me.no_new_privs == cr.no_new_privs();
  if (same) {
    groups.clear();
    return c;
  }
  c.present = 1;
  c.uid = cr.uid(); c.euid = cr.euid(); c.suid = cr.suid(); c.fsuid = cr.fsuid();
  c.gid = cr.gid(); c.egid = cr.egid(); c.sgid = cr.sgid(); c.fsgid = cr.fsgid();
  c.ngroups = uint32_t(groups.size());
  c.cap_inh = cr.cap_inh(); c.cap_prm = cr.cap_prm(); c.cap_eff = cr.cap_eff();
  c.cap_bnd = cr.cap_bnd(); c.cap_amb = cr.cap_amb();
  c.securebits = cr.securebits();
  c.no_new_privs = cr.no_new_privs();
  c.last_cap = own.last_cap;
  return c;
}

// One THREAD section: the struct, its groups, its pending signals.
std::vector<uint8_t> thread_section(const img::ThreadCoreEntry& t, bool main, uint64_t stack_top, uint64_t frame,
                                    const OwnCreds& own) {
  ckpt_restorer_thread th{};
  th.flags = (main ? CKPT_THREAD_MAIN : 0) | (t.exited() ? CKPT_THREAD_EXITED : 0);
  th.tid = int32_t(t.tid());
  th.stack_top = stack_top;
  th.sigframe = frame;
  th.clear_child_tid = t.clear_child_tid();
  th.robust_list = t.robust_list();
  th.robust_list_len = t.has_robust_list_len() ? t.robust_list_len() : 0;
  if (t.has_rseq() && t.rseq().ptr()) th.rseq = {t.rseq().ptr(), t.rseq().len(), t.rseq().sig()};
  th.fs_base = t.gpregs().fs_base();
  th.gs_base = t.gpregs().gs_base();
  std::snprintf(th.comm, sizeof(th.comm), "%s", t.comm().c_str());
  std::vector<uint32_t> groups;
  th.creds = thread_creds(t, own, groups);
  std::vector<ckpt_restorer_siginfo> pending = siginfos(t.pending(), false);
  th.nr_pending = uint32_t(pending.size());

  size_t groups_bytes = align8(groups.size() * sizeof(uint32_t));
  std::vector<uint8_t> out(sizeof(th) + groups_bytes + pending.size() * sizeof(ckpt_restorer_siginfo));
  copy_bytes(out.data(), &th, sizeof(th));
  if (!groups.empty()) copy_bytes(out.data() + sizeof(th), groups.data(), groups.size() * sizeof(uint32_t));
  if (!pending.empty())
    copy_bytes(out.data() + sizeof(th) + groups_bytes, pending.data(), pending.size() * sizeof(pending[0]));
  return out;
}

// One SECCOMP section: the thread's filters, the oldest first (the image's
// order), each as its header and its instructions.  Empty: none.
std::vector<uint8_t> seccomp_section(const img::ThreadCoreEntry& t) {
  if (t.seccomp_filters_size() == 0) return {};
  ckpt_restorer_seccomp head{int32_t(t.tid()), uint32_t(t.seccomp_filters_size())};
  std::vector<uint8_t> out(sizeof(head));
  copy_bytes(out.data(), &head, sizeof(head));
  for (const img::SeccompFilterEntry& f : t.seccomp_filters()) {
    // Checked when the image was read: whole instructions, LOG at most.
    ckpt_restorer_seccomp_filter fh{f.flags(), uint32_t(f.insns().size() / sizeof(ckpt_sock_filter))};
    size_t at = out.size();
    out.resize(at + sizeof(fh) + f.insns().size());
    copy_bytes(out.data() + at, &fh, sizeof(fh));
    copy_bytes(out.data() + at + sizeof(fh), f.insns().data(), f.insns().size());
  }
  return out;
}

// Reading from the page cache costs a copy and a fault per fresh page:
// a second reader on a second CPU halves it.  The tuning overrides, for
// measurements.
uint32_t io_workers(const Tuning& tuning) {
  if (tuning.io_workers) return uint32_t(std::clamp(*tuning.io_workers, 1, CKPT_RESTORER_MAX_IO_WORKERS));
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 1 ? 2 : 1;
}

uint32_t io_flags(const ArgsInputs& in) {
  const Tuning& tuning = *in.tuning;
  uint32_t flags = 0;
  if (tuning.prefault) flags |= CKPT_IO_PREFAULT;
  if (tuning.uffd) flags |= CKPT_IO_UFFD;
  // UFFDIO_COPY copies from the page cache: not for an image read directly
  // from the device.
  if (in.helpers->pages_direct) flags = (flags & ~CKPT_IO_UFFD) | CKPT_IO_AIO;
  if (tuning.aio) flags = *tuning.aio ? flags | CKPT_IO_AIO : flags & ~CKPT_IO_AIO;
  return flags;
}

ckpt_restorer_process process_section(const ProcessImage& p, const ArgsInputs& in, const AreaLayout& layout) {
  const img::ProcessCoreEntry& pc = p.core.process();
  ckpt_restorer_process proc{};
  proc.pages_fd = in.helpers->pages_slot >= 0 ? in.helper_fd_first + in.helpers->pages_slot : -1;
  proc.io_flags = io_flags(in);
  proc.pages_size = in.helpers->pages_size;
  proc.aio_batch = kAioBatch;
  proc.io_workers = io_workers(*in.tuning);
  proc.main_stack_top = layout.stack_off + kMainStackSize;
  proc.worker_stack_top = layout.stack_off + kMainStackSize / 2;
  for (const img::VmaEntry& v : p.vmas)
    if (v.kind() == img::VMA_VDSO) proc.vdso_proxy_addr = v.start();
  proc.mm = make_mm(p, in);
  proc.personality = pc.personality();
  proc.pdeath_sig = pc.pdeath_sig();
  proc.dumpable = pc.has_dumpable() ? int32_t(pc.dumpable()) : -1;
  if (pc.has_itimer_real()) proc.itimers[0] = itimer(pc.itimer_real());
  if (pc.has_itimer_virt()) proc.itimers[1] = itimer(pc.itimer_virt());
  if (pc.has_itimer_prof()) proc.itimers[2] = itimer(pc.itimer_prof());
  return proc;
}

uint64_t dumped_vdso_size(const ProcessImage& p) {
  for (const img::VmaEntry& v : p.vmas)
    if (v.kind() == img::VMA_VDSO) return v.end() - v.start();
  return 0;
}

}  // namespace

bool needs_vdso_proxy(const ArgsInputs& in) {
  const ProcessImage& p = *in.image;
  bool dumped_vdso = std::any_of(p.vmas.begin(), p.vmas.end(),
                                 [](const img::VmaEntry& v) { return v.kind() == img::VMA_VDSO; });
  return dumped_vdso && (in.tuning->vdso_proxy ||
                         !vdso_mismatch(in.our_vdso, in.our_vdso_build_id, p.vmas, p.mm.vdso_build_id()).empty());
}

namespace {

const Premap* premap_of(const std::vector<Premap>* premaps, size_t vma) {
  if (premaps)
    for (const Premap& m : *premaps)
      if (m.vma == vma) return &m;
  return nullptr;
}

}  // namespace

std::vector<ckpt_restorer_range> keep_ranges(const std::vector<Premap>* premaps) {
  std::vector<ckpt_restorer_range> out;
  if (premaps)
    for (const Premap& m : *premaps) out.push_back({m.at, m.at + m.len});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  return out;
}

std::vector<ckpt_restorer_run> blob_runs(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, const std::vector<Premap>* premaps) {
  std::vector<ckpt_restorer_run> out;
  size_t vi = 0;
  for (const auto& r : p.runs) {
    int32_t fd = other_image_fd(p, h, helper_fd_first, r);
    for (uint64_t at = r.vaddr, end = r.vaddr + r.len; at < end;) {
      vi = area_at(p, vi, at);
      bool in_area = vi < p.vmas.size();
      uint64_t stop = in_area ? std::min(end, p.vmas[vi].end()) : end;
      if (in_area && premap_of(premaps, vi)) {  // its pages are in place
        at = stop;
        continue;
      }
      uint32_t flags = (fd >= 0 ? uint32_t(CKPT_RUN_OTHER_FILE) : 0u) |
                       (in_area && uffd && filled_by_uffd(p.vmas[vi]) ? uint32_t(CKPT_RUN_UFFD) : 0u);
      for (const PageRun& piece : split_runs({{at, stop - at, r.offset + (at - r.vaddr)}}, kMaxIoBytes))
        out.push_back({piece.vaddr, piece.len, piece.offset, flags, fd});
      at = stop;
    }
  }
  return out;
}

std::vector<ckpt_restorer_range> guard_ranges(const ProcessImage& p) {
  std::vector<ckpt_restorer_range> out;
  for (const img::VmaEntry& v : p.vmas)
    for (const img::PageSpan& g : v.guards()) out.push_back({g.start(), g.end()});
  return out;
}

std::vector<ckpt_restorer_page_file> page_files(const HelperFiles& h, int helper_fd_first) {
  std::vector<ckpt_restorer_page_file> out;
  for (const auto& [id, other] : h.other_pages) out.push_back({helper_fd_first + other.slot, 0, other.size});
  return out;
}

std::vector<ckpt_restorer_vma> blob_vmas(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, bool vdso_proxy, const std::vector<Premap>* premaps) {
  std::vector<ckpt_restorer_vma> out;
  size_t ri = 0;
  for (size_t i = 0; i < p.vmas.size(); i++) {
    const img::VmaEntry& v = p.vmas[i];
    if (vdso_proxy && vdso_detail::is_vdso_kind(v.kind())) {
      out.push_back(vdso_stand_in(v));
      out.back().shmid = -1;
      continue;
    }
    // memfds and SysV segments too, from their objects.
    if (!blob_maps(v) && v.kind() != img::VMA_MEMFD && v.kind() != img::VMA_SYSV_SHM) continue;
    ckpt_restorer_vma b{};
    b.start = v.start();
    b.end = v.end();
    b.prot = v.prot() & (PROT_READ | PROT_WRITE | PROT_EXEC);
    b.map_flags = v.flags() & (MAP_GROWSDOWN | MAP_NORESERVE | MAP_LOCKED);
    b.fd = -1;
    b.shmid = -1;
    // A shared object of the tree (shared memory, a memfd, a deleted file)
    // is mapped from its fd, made by ckpt; a SysV segment is attached.
    // (Shared anonymous memory of an older image, without its object, is
    // mapped afresh.)
    auto slot = h.vma_slot.find(i);
    bool from_file = v.kind() == img::VMA_FILE_PRIVATE || v.kind() == img::VMA_FILE_SHARED ||
                     v.kind() == img::VMA_MEMFD;
    if (from_file && slot == h.vma_slot.end())
      throw Error(format("cannot restore pid %d: no file to map at 0x%llx", p.pid(), (unsigned long long)v.start()));
    switch (v.kind()) {
      case img::VMA_ANON_PRIVATE: b.map_flags |= (droppable(v) ? MAP_DROPPABLE : MAP_PRIVATE) | MAP_ANONYMOUS; break;
      case img::VMA_ANON_SHARED: b.map_flags |= MAP_SHARED | (slot != h.vma_slot.end() ? 0 : MAP_ANONYMOUS); break;
      case img::VMA_FILE_PRIVATE: b.map_flags |= MAP_PRIVATE; break;
      case img::VMA_FILE_SHARED: b.map_flags |= MAP_SHARED; break;
      case img::VMA_MEMFD: b.map_flags |= (v.flags() & MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE; break;
      case img::VMA_SYSV_SHM: b.map_flags |= MAP_SHARED; break;
      default: break;
    }
    if (slot != h.vma_slot.end()) {
      b.fd = helper_fd_first + slot->second;
      b.pgoff = v.pgoff();
    }
    if (auto shm = h.vma_shmid.find(i); shm != h.vma_shmid.end()) {
      b.shmid = shm->second;
      b.shm_attach = 1;
    }
    // Any run touching the area: it is written before its final protection.
    while (ri < p.runs.size() && p.runs[ri].vaddr + p.runs[ri].len <= v.start()) ri++;
    b.write_first = ri < p.runs.size() && p.runs[ri].vaddr < v.end();
    b.uffd = b.write_first && uffd && filled_by_uffd(v);
    b.madv = v.madv() & kStickyAdvice;
    b.attrs = (v.lock_on_fault() ? CKPT_VMA_LOCK_ONFAULT : 0u) | (v.sealed() ? CKPT_VMA_SEAL : 0u);
    if (const Premap* m = premap_of(premaps, i)) {
      b.attrs |= CKPT_VMA_PREMAPPED;
      b.premap_from = m->at;
      b.write_first = 0;
      b.uffd = 0;
    }
    out.push_back(b);
  }
  return out;
}

AreaLayout area_layout(const ArgsInputs& in) {
  uint64_t stacks = kMainStackSize + (in.image->threads.size() - 1) * CKPT_RESTORER_THREAD_STACK;
  return plan_area(ckpt_blob_restorer_size, stacks, vdso_park_size(in.our_vdso));
}

ArgsImage build_args(const ArgsInputs& in, const AreaLayout& layout) {
  const ProcessImage& p = *in.image;
  ArgsImage out;
  SectionWriter w;
  bool proxy = needs_vdso_proxy(in);
  ckpt_restorer_process proc = process_section(p, in, layout);
  bool uffd = proc.io_flags & CKPT_IO_UFFD;
  w.add(CKPT_SECTION_PROCESS, 1, &proc, sizeof(proc));
  w.add_array(CKPT_SECTION_AUXV, auxv_words(p));
  out.nr_vdso = uint32_t(in.our_vdso.size());
  out.vdso_off = w.reserve(CKPT_SECTION_VDSO, out.nr_vdso, out.nr_vdso * sizeof(ckpt_restorer_vdso_part));
  if (proxy) {
    out.proxy_size = dumped_vdso_size(p);
    out.proxy_off = w.reserve(CKPT_SECTION_VDSO_PROXY, uint32_t(out.proxy_size), out.proxy_size);
  }
  w.add_array(CKPT_SECTION_VMAS, blob_vmas(p, *in.helpers, in.helper_fd_first, uffd, proxy, in.premaps));
  w.add_array(CKPT_SECTION_RUNS, blob_runs(p, *in.helpers, in.helper_fd_first, uffd, in.premaps));
  if (in.premaps && !in.premaps->empty()) w.add_array(CKPT_SECTION_KEEP, keep_ranges(in.premaps));
  w.add_array(CKPT_SECTION_PAGE_FILES, page_files(*in.helpers, in.helper_fd_first));
  std::vector<ckpt_restorer_range> guards = guard_ranges(p);
  if (!guards.empty()) w.add_array(CKPT_SECTION_GUARDS, guards);
  w.add_array(CKPT_SECTION_RLIMITS, rlimits(p));
  w.add_array(CKPT_SECTION_SIGACTIONS, sigactions(p));
  w.add_array(CKPT_SECTION_SHARED_PENDING, siginfos(p.core.process().shared_pending(), true));
  w.add_array(CKPT_SECTION_POSIX_TIMERS, posix_timers(p));

  w.add_array(CKPT_SECTION_THREAD_PRCTL, task::thread_prctl_section(p));
  w.add_array(CKPT_SECTION_VMA_MEMPOLICY, mem::vma_policy_section(p));
  w.add_array(CKPT_SECTION_THREAD_MEMPOLICY, mem::thread_policy_section(p));

  // Each thread: its frame first (its offset goes into the thread), then
  // the thread; stacks after the main thread's, one each.
  OwnCreds own = own_creds();
  uint64_t shared_pending = 0;
  for (const img::SiginfoEntry& si : p.core.process().shared_pending()) shared_pending |= signal_bit(si);
  for (size_t i = 0; i < p.threads.size(); i++) {
    const img::ThreadCoreEntry& t = p.threads[i];
    uint64_t frame = 0;
    if (!t.exited()) {
      FrameInput fi = frame_input(t, shared_pending);
      size_t bytes = sigframe_bytes(fi);
      uint64_t off = w.reserve(CKPT_SECTION_FRAME, 0, bytes, 64);
      frame = layout.args_off + off;
      build_sigframe(w.at(off), frame, fi);
    }
    uint64_t stack_top = i == 0 ? proc.main_stack_top
                                : layout.stack_off + kMainStackSize + i * CKPT_RESTORER_THREAD_STACK;
    std::vector<uint8_t> th = thread_section(t, i == 0, stack_top, frame, own);
    uint64_t off = w.add(CKPT_SECTION_THREAD, 1, th.data(), th.size());
    out.threads.emplace_back(pid_t(t.tid()), off);
    std::vector<uint8_t> sc = seccomp_section(t);
    if (!sc.empty()) w.add(CKPT_SECTION_SECCOMP, uint32_t(t.seccomp_filters_size()), sc.data(), sc.size());
  }

  ckpt_restorer_args h{};
  h.magic = CKPT_RESTORER_ARGS_MAGIC;
  h.version = CKPT_RESTORER_ARGS_VERSION;
  h.header_size = sizeof(h);
  h.nr_sections = w.sections();
  h.total_size = w.size();
  h.pid = p.pid();
  h.nr_threads = uint32_t(p.threads.size());
  h.helper_fd_first = in.helper_fd_first;
  copy_bytes(w.at(0), &h, sizeof(h));
  out.bytes = w.take();
  return out;
}

void bind_args(ArgsImage& args, const ArgsInputs& in, const RestorerArea& area) {
  const ProcessImage& p = *in.image;
  ckpt_restorer_args* h = reinterpret_cast<ckpt_restorer_args*>(args.bytes.data());
  h->area_start = area.start();
  h->area_end = area.end();
  h->task_size = in.task_size;
  std::vector<ckpt_restorer_vdso_part> vdso;
  try {
    uint64_t park = area.start() + area.layout().park_off;
    if (args.proxy_size) {
      // The moved vDSO goes just past the area: the gap was chosen for both.
      vdso = plan_vdso_proxy(in.our_vdso, park, area.end());
      std::vector<uint8_t> code = vdso_trampolines(dumped_vdso_functions(p.mm), args.proxy_size,
                                                   in.our_vdso_functions, proxied_vdso_address(in.our_vdso, area.end()));
      copy_bytes(args.bytes.data() + args.proxy_off, code.data(), std::min<size_t>(code.size(), args.proxy_size));
      LOG_DEBUG("pid %d: vDSO proxy, this kernel's vDSO at 0x%llx", p.pid(), (unsigned long long)area.end());
    } else {
      vdso = plan_vdso(in.our_vdso, in.our_vdso_build_id, p.vmas, p.mm.vdso_build_id(), park);
    }
  } catch (const Error& e) {
    throw Error(format("cannot restore pid %d: %s", p.pid(), e.what()));
  }
  if (vdso.size() != args.nr_vdso) throw Error(format("cannot restore pid %d: the vDSO plan changed", p.pid()));
  copy_bytes(args.bytes.data() + args.vdso_off, vdso.data(), vdso.size() * sizeof(vdso[0]));
  copy_bytes(area.args(), args.bytes.data(), args.bytes.size());
}

}  // namespace ckpt::restore
