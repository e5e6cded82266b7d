#include "cure.h"

#include <sys/syscall.h>

#include <algorithm>
#include <cstring>

#include "ckpt/kernel_types.h"
#include "ckpt/sigframe.h"
#include "compel/compel.h"
#include "ptrace_util.h"
#include "rseq.h"

namespace compel::detail {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRedZone = 128;
constexpr uint64_t kFlagTrap = 0x100;
constexpr size_t kCallFrameSize = (sizeof(ckpt_rt_sigframe) + 63) & ~size_t(63);
constexpr size_t kScanChunk = 1 << 20;

bool name_has(const proc::MapArea& a, const char* part) { return a.name.find(part) != std::string::npos; }

// Where to look first: the vDSO, then the loader and libc, which nearly
// every process maps, then the rest of its read-only code.
int search_rank(const proc::MapArea& a) {
  if (a.name == "[vdso]") return 0;
  if (name_has(a, "/ld-linux") || name_has(a, "/ld-musl") || name_has(a, "/libc.so") || name_has(a, "/libc-"))
    return 1;
  return 2;
}

// Both sequences end in a syscall instruction (0f 05): look only there.
void scan(const uint8_t* p, size_t n, uint64_t base, CureGadgets& g) {
  static const uint8_t kMovEax[] = {0xb8, 0x0f, 0x00, 0x00, 0x00};              // mov $15, %eax
  static const uint8_t kMovRax[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00};  // mov $15, %rax
  auto preceded_by = [&](size_t at, const uint8_t* seq, size_t len) {
    return at >= len && std::memcmp(p + at - len, seq, len) == 0;
  };
  for (const uint8_t* hit = p; (!g.sigreturn || !g.syscall_ret) && hit + 2 <= p + n;) {
    hit = static_cast<const uint8_t*>(memmem(hit, static_cast<size_t>(p + n - hit), "\x0f\x05", 2));
    if (!hit) break;
    size_t at = static_cast<size_t>(hit - p);
    if (!g.sigreturn && (preceded_by(at, kMovEax, sizeof(kMovEax)) || preceded_by(at, kMovRax, sizeof(kMovRax)))) {
      size_t len = preceded_by(at, kMovEax, sizeof(kMovEax)) ? sizeof(kMovEax) : sizeof(kMovRax);
      g.sigreturn = base + at - len;
      g.sigreturn_end = base + at + 2;
    }
    if (!g.syscall_ret && at + 3 <= n && p[at + 2] == 0xc3) g.syscall_ret = base + at;
    hit++;
  }
}

}  // namespace

CureGadgets find_cure_gadgets(pid_t pid, pid_t mem_tid, const std::vector<proc::MapArea>& maps) {
  std::vector<const proc::MapArea*> code;
  for (const proc::MapArea& a : maps)
    if (a.exec && a.read && !a.write && a.start < 0xffffffffff600000ULL) code.push_back(&a);  // not [vsyscall]
  std::stable_sort(code.begin(), code.end(),
                   [](const auto* a, const auto* b) { return search_rank(*a) < search_rank(*b); });
  CureGadgets g;
  std::vector<uint8_t> buf(kScanChunk + 16);
  for (const proc::MapArea* a : code) {
    // Chunks overlap by a few bytes so that no sequence falls in between.
    for (uint64_t at = a->start; at < a->end && (!g.sigreturn || !g.syscall_ret); at += kScanChunk) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kScanChunk + 16, a->end - at));
      if (!read_mem(mem_tid, at, buf.data(), n)) break;
      scan(buf.data(), n, at, g);
    }
    if (g.sigreturn && g.syscall_ret) break;
  }
  if (!g.sigreturn)
    throw Error("cannot infect pid " + std::to_string(pid) +
                ": its code has no rt_sigreturn sequence (mov $15, %eax; syscall), which the parasite needs to "
                "give every thread back should ckpt die; programs without one (static, without signal handlers) "
                "are not supported yet");
  return g;
}

namespace {

ckpt::FrameInput own_frame(const SavedState& saved, uint64_t pending) {
  ckpt::FrameInput own;
  own.regs = saved.gp;
  ckpt::settle_interrupted_syscall(own.regs);
  ckpt::restart_eintr_of_the_freeze(own.regs, pending & ~saved.sigmask);
  own.xsave = saved.xstate;
  if (own.xsave.empty()) own.fxsave = saved.fpregs;
  own.blocked = saved.sigmask;
  own.keep_altstack = true;
  return own;
}

}  // namespace

size_t cure_chain_bytes(const SavedState& saved, size_t calls) {
  return ckpt::sigframe_bytes(own_frame(saved, 0)) + calls * kCallFrameSize + 64;
}

uint64_t room_on_own_stack(const user_regs_struct& regs, size_t bytes, const std::vector<proc::MapArea>& maps) {
  uint64_t sp = regs.rsp;
  const proc::MapArea* at = proc::mapping_of_stack_pointer(maps, sp);
  if (!at || !at->read || !at->write || sp - at->start < kRedZone + bytes) return 0;
  bool stack = at->name == "[stack]";
  if (!stack && at->name.empty() && at != &maps.front()) {
    // A thread stack: its guard page right below, its TLS block (fs_base)
    // at the top, above the stack pointer.
    const proc::MapArea& below = *(at - 1);
    bool guarded = below.end == at->start && !below.read && !below.write && !below.exec;
    stack = guarded && regs.fs_base > sp && regs.fs_base < at->end;
  }
  return stack ? sp - kRedZone : 0;
}

CureChain write_cure_chain(pid_t pid, pid_t mem_tid, pid_t tid, const SavedState& saved, uint64_t pending,
                           const CureGadgets& g, const std::vector<ChainCall>& wanted, uint64_t top) {
  std::vector<ChainCall> calls = g.syscall_ret ? wanted : std::vector<ChainCall>{};

  // The thread's own frame, as the kernel would have resumed it.
  ckpt::FrameInput own = own_frame(saved, pending);
  size_t own_bytes = ckpt::sigframe_bytes(own);
  uint64_t own_at = (top - own_bytes) & ~uint64_t(63);
  uint64_t low = own_at - calls.size() * kCallFrameSize;

  std::vector<uint8_t> bytes(own_at + own_bytes - low, 0);
  ckpt::build_sigframe(bytes.data() + (own_at - low), own_at, own);

  CureChain chain;
  chain.head = low;
  for (size_t i = 0; i < calls.size(); i++) {
    uint64_t at = low + i * kCallFrameSize;
    uint64_t next = i + 1 < calls.size() ? at + kCallFrameSize : own_at;
    ckpt_rt_sigframe f{};
    ckpt_sigcontext& sc = f.uc.uc_mcontext;
    sc.ip = g.syscall_ret;
    sc.ax = static_cast<uint64_t>(calls[i].nr);
    sc.di = calls[i].a1;
    sc.si = calls[i].a2;
    sc.sp = next;  // the ret after the syscall takes the next frame's pretcode
    sc.flags = saved.gp.eflags & ~kFlagTrap;
    sc.cs = static_cast<uint16_t>(saved.gp.cs);
    sc.ss = static_cast<uint16_t>(saved.gp.ss);
    sc.fpstate = 0;  // the FPU starts clean; the last frame puts it back
    f.uc.uc_flags = CKPT_UC_SIGCONTEXT_SS | CKPT_UC_STRICT_RESTORE_SS;
    f.uc.uc_sigmask = ~0ULL;  // no handler runs on the way
    f.uc.uc_stack.ss_flags = ckpt::kSsKeep;
    f.pretcode = g.sigreturn;
    std::memcpy(bytes.data() + (at - low), &f, sizeof(f));
    chain.arg_slots.push_back(at + offsetof(ckpt_rt_sigframe, uc.uc_mcontext.di));
    chain.nr_slots.push_back(at + offsetof(ckpt_rt_sigframe, uc.uc_mcontext.ax));
  }
  // The own frame is reached by the last call's ret: its pretcode too.
  std::memcpy(bytes.data() + (own_at - low), &g.sigreturn, sizeof(g.sigreturn));
  if (calls.empty()) chain.head = own_at;
  if (!write_mem(mem_tid, low, bytes.data(), bytes.size()))
    throw Error("cannot infect pid " + std::to_string(pid) + ": writing the cure frames of thread " +
                std::to_string(tid) + " at " + hex(low) + " failed: " + std::strerror(errno));
  return chain;
}

user_regs_struct parked_regs(const user_regs_struct& saved, const CureGadgets& g, const CureChain& chain) {
  user_regs_struct r = saved;
  r.rip = g.sigreturn;
  r.rsp = chain.parked_sp();
  // Not "in a syscall": leaving the stop must not restart anything.
  r.orig_rax = static_cast<uint64_t>(-1);
  r.eflags &= ~kFlagTrap;
  return r;
}

uint64_t pick_area_address(pid_t pid, const std::vector<proc::MapArea>& maps, uint64_t size) {
  // Below the stack lies the room it may grow into (RLIMIT_STACK, and the
  // kernel keeps at least 128 MiB free there): stay further down.
  constexpr uint64_t kStackRoom = 256ULL << 20, kLowest = 1ULL << 32, kTop = 0x7ffffffff000ULL;
  uint64_t limit = kTop;
  for (const proc::MapArea& a : maps)
    if (a.name == "[stack]") limit = std::min(limit, a.start > kStackRoom ? a.start - kStackRoom : 0);
  // The highest gap below the limit with a free page on either side.
  uint64_t above = limit;
  for (auto it = maps.rbegin(); it != maps.rend(); ++it) {
    if (it->start >= limit) {
      continue;
    }
    uint64_t gap_end = std::min(above, limit);
    if (it->end + size + 2 * kPage <= gap_end && gap_end - size - kPage >= kLowest)
      return (gap_end - kPage - size) & ~(kPage - 1);
    above = std::min(above, it->start);
  }
  throw Error("cannot infect pid " + std::to_string(pid) + ": no free room of " + std::to_string(size) +
              " bytes for the parasite in its address space");
}

}  // namespace compel::detail
