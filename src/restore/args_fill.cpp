#include "restore/args_fill.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"
#include "proc/status.h"
#include "restore/sigframe.h"

namespace ckpt::restore {

namespace {

uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t(7); }

bool blob_maps(const img::VmaEntry& v) {
  return v.kind() == img::VMA_ANON_PRIVATE || v.kind() == img::VMA_ANON_SHARED || v.kind() == img::VMA_FILE_PRIVATE ||
         v.kind() == img::VMA_FILE_SHARED;
}

// madvise() advice that sticks to an area as a flag; others (DONTNEED...)
// would destroy data and are never replayed.
constexpr uint64_t kStickyAdvice = (1ull << MADV_DONTFORK) | (1ull << MADV_DOFORK) | (1ull << MADV_MERGEABLE) |
                                   (1ull << MADV_UNMERGEABLE) | (1ull << MADV_HUGEPAGE) | (1ull << MADV_NOHUGEPAGE) |
                                   (1ull << MADV_DONTDUMP) | (1ull << MADV_DODUMP) | (1ull << MADV_WIPEONFORK) |
                                   (1ull << MADV_KEEPONFORK);

// UFFDIO_COPY fills anonymous private memory only (userfaultfd's missing
// mode takes no file-backed private areas, and shared memory gains nothing),
// and not locked memory, which mmap already fills with zero pages.
bool filled_by_uffd(const img::VmaEntry& v) {
  return v.kind() == img::VMA_ANON_PRIVATE && !(v.flags() & MAP_LOCKED);
}

// The pieces the blob reads: cut at area boundaries (a UFFDIO_COPY stays in
// one area) and to kMaxIoBytes, each marked with how it is filled.
std::vector<ckpt_restorer_run> blob_runs(const ProcessImage& p, bool uffd) {
  std::vector<PageRun> in_areas;
  std::vector<bool> by_uffd;
  size_t vi = 0;
  for (const auto& r : p.runs) {
    for (uint64_t at = r.vaddr, end = r.vaddr + r.len; at < end;) {
      while (vi < p.vmas.size() && p.vmas[vi].end() <= at) vi++;
      uint64_t stop = vi < p.vmas.size() ? std::min(end, p.vmas[vi].end()) : end;  // checked at load
      in_areas.push_back({at, stop - at, r.offset + (at - r.vaddr)});
      by_uffd.push_back(uffd && vi < p.vmas.size() && filled_by_uffd(p.vmas[vi]));
      at = stop;
    }
  }
  std::vector<ckpt_restorer_run> out;
  for (size_t i = 0; i < in_areas.size(); i++)
    for (const PageRun& piece : split_runs({in_areas[i]}, kMaxIoBytes))
      out.push_back({piece.vaddr, piece.len, piece.offset, by_uffd[i] ? uint32_t(CKPT_RUN_UFFD) : 0u, 0});
  return out;
}

FrameInput frame_input(const ProcessImage& p) {
  const img::ThreadCoreEntry& t = p.core.thread();
  const img::X86GpRegs& g = t.gpregs();
  FrameInput in;
  user_regs_struct& r = in.regs;
  r.r15 = g.r15(); r.r14 = g.r14(); r.r13 = g.r13(); r.r12 = g.r12(); r.rbp = g.bp(); r.rbx = g.bx();
  r.r11 = g.r11(); r.r10 = g.r10(); r.r9 = g.r9(); r.r8 = g.r8(); r.rax = g.ax(); r.rcx = g.cx();
  r.rdx = g.dx(); r.rsi = g.si(); r.rdi = g.di(); r.orig_rax = g.orig_ax(); r.rip = g.ip(); r.cs = g.cs();
  r.eflags = g.flags(); r.rsp = g.sp(); r.ss = g.ss(); r.fs_base = g.fs_base(); r.gs_base = g.gs_base();
  r.ds = g.ds(); r.es = g.es(); r.fs = g.fs(); r.gs = g.gs();
  settle_interrupted_syscall(r);
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

void fill_mm(const ProcessImage& p, const ArgsInputs& in, ckpt_restorer_mm& mm) {
  const img::MmEntry& m = p.mm;
  mm.start_code = m.start_code(); mm.end_code = m.end_code();
  mm.start_data = m.start_data(); mm.end_data = m.end_data();
  mm.start_brk = m.start_brk(); mm.brk = m.brk(); mm.start_stack = m.start_stack();
  mm.arg_start = m.arg_start(); mm.arg_end = m.arg_end();
  mm.env_start = m.env_start(); mm.env_end = m.env_end();
  if (m.auxv_size() > CKPT_RESTORER_MAX_AUXV)
    throw Error(format("cannot restore pid %d: its auxiliary vector has %d words, more than the kernel keeps",
                       p.pid(), m.auxv_size()));
  mm.auxv_words = uint32_t(m.auxv_size());
  for (int i = 0; i < m.auxv_size(); i++) mm.auxv[i] = m.auxv(i);
  mm.exe_fd = in.helpers->exe_slot >= 0 ? in.helper_fd_first + in.helpers->exe_slot : -1;
}

// A hard limit above ours cannot be raised without CAP_SYS_RESOURCE: the
// process gets ours, with a warning, rather than no restore at all.
void fill_rlimits(const ProcessImage& p, ckpt_restorer_args& a) {
  const auto& limits = p.core.process().rlimits();
  uint32_t n = 0;
  for (const img::RlimitEntry& r : limits) {
    if (n == CKPT_RESTORER_MAX_RLIMITS || r.resource() >= RLIM_NLIMITS) continue;
    struct rlimit ours;
    if (getrlimit(__rlimit_resource(r.resource()), &ours) < 0) continue;
    uint64_t cur = r.cur(), max = r.max();
    if (max > ours.rlim_max) {
      LOG_WARN("pid %d had a hard limit of %llu for resource %u; it gets %llu (raising it needs CAP_SYS_RESOURCE)",
               p.pid(), (unsigned long long)max, r.resource(), (unsigned long long)ours.rlim_max);
      max = ours.rlim_max;
      cur = std::min<uint64_t>(cur, max);
    }
    a.rlimits[n++] = {r.resource(), 0, cur, max};
  }
  a.nr_rlimits = n;
}

void fill_signals(const ProcessImage& p, ckpt_restorer_args& a) {
  const img::ProcessCoreEntry& pc = p.core.process();
  for (const img::SigactionEntry& s : pc.sigactions()) {
    if (s.signo() < 1 || s.signo() > CKPT_RESTORER_NSIG) continue;
    a.sigactions[s.signo() - 1] = {s.handler(), s.flags(), s.restorer(), s.mask()};
  }
  // A periodic timer that just fired reads as 0 left until its SIGALRM is
  // taken (the kernel re-arms it then); setitimer(0) would disarm it, so it
  // gets a full interval instead.
  auto itimer = [](const img::ItimerEntry& e) {
    ckpt_restorer_itimer t{e.interval_sec(), e.interval_usec(), e.value_sec(), e.value_usec()};
    if (!t.value_sec && !t.value_usec) {
      t.value_sec = t.interval_sec;
      t.value_usec = t.interval_usec;
    }
    return t;
  };
  if (pc.has_itimer_real()) a.itimers[0] = itimer(pc.itimer_real());
  if (pc.has_itimer_virt()) a.itimers[1] = itimer(pc.itimer_virt());
  if (pc.has_itimer_prof()) a.itimers[2] = itimer(pc.itimer_prof());
}

// The POSIX timers in id order (the blob's fallback without
// PR_TIMER_CREATE_RESTORE_IDS creates them in that order), checked here so
// that ckpt names what is wrong with the image, not a failed syscall.
std::vector<ckpt_restorer_posix_timer> blob_posix_timers(const ProcessImage& p) {
  std::vector<ckpt_restorer_posix_timer> out;
  for (const img::PosixTimerEntry& e : p.core.process().posix_timers()) {
    if (e.timer_id() < 0 || e.interval_nsec() >= 1000000000 || e.value_nsec() >= 1000000000)
      throw Error(format("cannot restore pid %d: its POSIX timer %d is corrupt in the image", p.pid(), e.timer_id()));
    if ((e.notify() & SIGEV_THREAD_ID) && e.notify_tid() != p.pid())
      throw Error(format("cannot restore pid %d: its POSIX timer %d signals thread %d, and threads are not restored",
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

void fill_pending(const ProcessImage& p, ckpt_restorer_siginfo* out) {
  auto add = [&](const img::SiginfoEntry& s, bool shared) {
    ckpt_restorer_siginfo si{};
    size_t n = std::min(s.siginfo().size(), sizeof(si.raw));
    std::memcpy(si.raw, s.siginfo().data(), n);
    std::memcpy(&si.signo, si.raw, sizeof(int32_t));
    si.shared = shared;
    *out++ = si;
  };
  for (const auto& s : p.core.process().shared_pending()) add(s, true);
  for (const auto& s : p.core.thread().pending()) add(s, false);
}

// Credentials are only replayed when they differ from ckpt's own: for a
// root target restored by root, nothing to do (and nothing to get wrong).
void fill_creds(const ProcessImage& p, ckpt_restorer_creds& c) {
  if (!p.core.thread().has_creds()) return;
  const img::CredsEntry& cr = p.core.thread().creds();
  proc::Status me = proc::parse_status(proc::read_file("/proc/self/status"), "/proc/self/status");
  std::vector<uint32_t> groups(cr.groups().begin(), cr.groups().end());
  int securebits = prctl(PR_GET_SECUREBITS);
  bool same = me.uid[0] == cr.uid() && me.uid[1] == cr.euid() && me.uid[2] == cr.suid() && me.uid[3] == cr.fsuid() &&
              me.gid[0] == cr.gid() && me.gid[1] == cr.egid() && me.gid[2] == cr.sgid() && me.gid[3] == cr.fsgid() &&
              me.groups == groups && me.cap_inh == cr.cap_inh() && me.cap_prm == cr.cap_prm() &&
              me.cap_eff == cr.cap_eff() && me.cap_bnd == cr.cap_bnd() && me.cap_amb == cr.cap_amb() &&
              uint32_t(securebits) == cr.securebits() && me.no_new_privs == cr.no_new_privs();
  if (same) return;
  if (groups.size() > CKPT_RESTORER_MAX_GROUPS)
    throw Error(format("cannot restore pid %d: it is in %zu groups, more than %d", p.pid(), groups.size(),
                       CKPT_RESTORER_MAX_GROUPS));
  c.present = 1;
  c.uid = cr.uid(); c.euid = cr.euid(); c.suid = cr.suid(); c.fsuid = cr.fsuid();
  c.gid = cr.gid(); c.egid = cr.egid(); c.sgid = cr.sgid(); c.fsgid = cr.fsgid();
  c.ngroups = uint32_t(groups.size());
  std::copy(groups.begin(), groups.end(), c.groups);
  c.cap_inh = cr.cap_inh(); c.cap_prm = cr.cap_prm(); c.cap_eff = cr.cap_eff();
  c.cap_bnd = cr.cap_bnd(); c.cap_amb = cr.cap_amb();
  c.securebits = cr.securebits();
  c.no_new_privs = cr.no_new_privs();
  int last_cap = 40;
  try {
    last_cap = std::stoi(proc::read_file("/proc/sys/kernel/cap_last_cap"));
  } catch (const std::exception&) {
  }
  c.last_cap = uint32_t(last_cap);
}

void fill_thread(const ProcessImage& p, ckpt_restorer_args& a) {
  const img::ThreadCoreEntry& t = p.core.thread();
  const img::ProcessCoreEntry& pc = p.core.process();
  a.clear_child_tid = t.clear_child_tid();
  a.robust_list = t.robust_list();
  a.robust_list_len = t.has_robust_list_len() ? t.robust_list_len() : 0;
  if (t.has_rseq() && t.rseq().ptr()) a.rseq = {t.rseq().ptr(), t.rseq().len(), t.rseq().sig()};
  a.fs_base = t.gpregs().fs_base();
  a.gs_base = t.gpregs().gs_base();
  a.personality = pc.personality();
  a.pdeath_sig = pc.pdeath_sig();
  a.dumpable = pc.has_dumpable() ? int32_t(pc.dumpable()) : -1;
  fill_creds(p, a.creds);
}

// Reading from the page cache costs a copy and a fault per fresh page:
// a second reader on a second CPU halves it.  The tuning overrides, for
// measurements.
uint32_t io_workers(const Tuning& tuning) {
  if (tuning.io_workers) return uint32_t(std::clamp(*tuning.io_workers, 1, CKPT_RESTORER_MAX_IO_WORKERS));
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 1 ? 2 : 1;
}

uint32_t io_flags(const Tuning& tuning) {
  uint32_t flags = 0;
  if (tuning.prefault) flags |= CKPT_IO_PREFAULT;
  if (tuning.uffd) flags |= CKPT_IO_UFFD;
  return flags;
}

}  // namespace

bool needs_vdso_proxy(const ArgsInputs& in) {
  const ProcessImage& p = *in.image;
  bool dumped_vdso = std::any_of(p.vmas.begin(), p.vmas.end(),
                                 [](const img::VmaEntry& v) { return v.kind() == img::VMA_VDSO; });
  return dumped_vdso && (in.tuning->vdso_proxy ||
                         !vdso_mismatch(in.our_vdso, in.our_vdso_build_id, p.vmas, p.mm.vdso_build_id()).empty());
}

std::vector<ckpt_restorer_vma> blob_vmas(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, bool vdso_proxy) {
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
      case img::VMA_ANON_PRIVATE: b.map_flags |= MAP_PRIVATE | MAP_ANONYMOUS; break;
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
    out.push_back(b);
  }
  return out;
}

ArgsSizes args_sizes(const ArgsInputs& in) {
  const ProcessImage& p = *in.image;
  ArgsSizes s{};
  bool proxy = needs_vdso_proxy(in);
  s.nr_vmas = uint32_t(blob_vmas(p, *in.helpers, in.helper_fd_first, false, proxy).size());
  s.nr_runs = uint32_t(blob_runs(p, false).size());
  s.nr_pending = uint32_t(p.core.process().shared_pending_size() + p.core.thread().pending_size());
  s.vmas_off = align8(sizeof(ckpt_restorer_args));
  s.runs_off = align8(s.vmas_off + s.nr_vmas * sizeof(ckpt_restorer_vma));
  s.pending_off = align8(s.runs_off + s.nr_runs * sizeof(ckpt_restorer_run));
  s.nr_timers = uint32_t(p.core.process().posix_timers_size());
  s.timers_off = align8(s.pending_off + s.nr_pending * sizeof(ckpt_restorer_siginfo));
  s.vdso_proxy_off = align8(s.timers_off + s.nr_timers * sizeof(ckpt_restorer_posix_timer));
  s.vdso_proxy_size = 0;
  for (const img::VmaEntry& v : p.vmas)
    if (proxy && v.kind() == img::VMA_VDSO) s.vdso_proxy_size = v.end() - v.start();
  s.frame_off = align_up64(s.vdso_proxy_off + s.vdso_proxy_size);
  s.total = s.frame_off + sigframe_bytes(frame_input(p));
  return s;
}

void fill_args(const ArgsInputs& in, const RestorerArea& area, const ArgsSizes& s) {
  const ProcessImage& p = *in.image;
  ckpt_restorer_args* a = area.args();
  char* base = reinterpret_cast<char*>(a);
  std::memset(a, 0, sizeof(*a));
  a->magic = CKPT_RESTORER_ARGS_MAGIC;
  a->version = CKPT_RESTORER_ARGS_VERSION;
  a->size = sizeof(*a);
  a->pid = p.pid();
  a->area_start = area.start();
  a->area_end = area.end();
  a->task_size = in.task_size;

  std::vector<ckpt_restorer_vdso_part> vdso;
  bool proxy = s.vdso_proxy_size != 0;
  try {
    uint64_t park = area.start() + area.layout().park_off;
    if (proxy) {
      // The moved vDSO goes just past the area: the gap was chosen for both.
      vdso = plan_vdso_proxy(in.our_vdso, park, area.end());
      std::vector<uint8_t> code = vdso_trampolines(dumped_vdso_functions(p.mm), s.vdso_proxy_size,
                                                   in.our_vdso_functions, proxied_vdso_address(in.our_vdso, area.end()));
      std::memcpy(base + s.vdso_proxy_off, code.data(), code.size());
      a->vdso_proxy_off = s.vdso_proxy_off;
      a->vdso_proxy_size = s.vdso_proxy_size;
      for (const img::VmaEntry& v : p.vmas)
        if (v.kind() == img::VMA_VDSO) a->vdso_proxy_addr = v.start();
      LOG_DEBUG("pid %d: vDSO proxy at 0x%llx, this kernel's vDSO at 0x%llx", p.pid(),
                (unsigned long long)a->vdso_proxy_addr, (unsigned long long)area.end());
    } else {
      vdso = plan_vdso(in.our_vdso, in.our_vdso_build_id, p.vmas, p.mm.vdso_build_id(), park);
    }
  } catch (const Error& e) {
    throw Error(format("cannot restore pid %d: %s", p.pid(), e.what()));
  }
  a->nr_vdso_parts = uint32_t(vdso.size());
  std::copy(vdso.begin(), vdso.end(), a->vdso);

  a->io_flags = io_flags(*in.tuning);
  // UFFDIO_COPY copies from the page cache: not for an image read directly
  // from the device.
  if (in.helpers->pages_direct) a->io_flags = (a->io_flags & ~CKPT_IO_UFFD) | CKPT_IO_AIO;
  if (in.tuning->aio) a->io_flags = *in.tuning->aio ? a->io_flags | CKPT_IO_AIO : a->io_flags & ~CKPT_IO_AIO;
  bool uffd = a->io_flags & CKPT_IO_UFFD;
  std::vector<ckpt_restorer_vma> vmas = blob_vmas(p, *in.helpers, in.helper_fd_first, uffd, proxy);
  a->vmas_off = s.vmas_off;
  a->nr_vmas = uint32_t(vmas.size());
  std::memcpy(base + s.vmas_off, vmas.data(), vmas.size() * sizeof(vmas[0]));

  std::vector<ckpt_restorer_run> runs = blob_runs(p, uffd);
  a->runs_off = s.runs_off;
  a->nr_runs = uint32_t(runs.size());
  std::memcpy(base + s.runs_off, runs.data(), runs.size() * sizeof(runs[0]));
  a->pages_fd = in.helpers->pages_slot >= 0 ? in.helper_fd_first + in.helpers->pages_slot : -1;
  a->pages_size = in.helpers->pages_size;
  a->aio_batch = kAioBatch;
  a->io_workers = io_workers(*in.tuning);
  // The second reader's stack: the lower half of the blob's.
  a->worker_stack_top = area.start() + area.layout().stack_off + area.layout().stack_size / 2;

  fill_mm(p, in, a->mm);
  fill_rlimits(p, *a);
  fill_signals(p, *a);
  a->pending_off = s.pending_off;
  a->nr_pending = s.nr_pending;
  fill_pending(p, reinterpret_cast<ckpt_restorer_siginfo*>(base + s.pending_off));
  std::vector<ckpt_restorer_posix_timer> timers = blob_posix_timers(p);
  a->timers_off = s.timers_off;
  a->nr_timers = uint32_t(timers.size());
  std::memcpy(base + s.timers_off, timers.data(), timers.size() * sizeof(timers[0]));
  fill_thread(p, *a);
  a->helper_fd_first = in.helper_fd_first;

  uint64_t frame_addr = reinterpret_cast<uint64_t>(base) + s.frame_off;
  a->sigframe = build_sigframe(reinterpret_cast<uint8_t*>(base + s.frame_off), frame_addr, frame_input(p));
}

}  // namespace ckpt::restore
