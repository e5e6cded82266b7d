#include "remote_syscall.h"

#include <elf.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>

#include <cstring>

#include "proc.h"

namespace compel::detail {

namespace {

constexpr uint64_t kFlagTrap = 0x100;       // EFLAGS.TF
constexpr uint64_t kSyscallTrap = 0xcc050f; // 0f 05 cc

// Where compel's own vDSO has a syscall instruction, and the 8 bytes there
// (to recognise the same vDSO in the target).
struct OwnVdso {
  int64_t offset = -1;
  uint64_t word = 0;
};

OwnVdso find_own_vdso_syscall() {
  OwnVdso out;
  auto base = reinterpret_cast<const uint8_t*>(getauxval(AT_SYSINFO_EHDR));
  if (!base) return out;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return out;
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X)) continue;
    // Any 0f 05 does, even inside another instruction: jumping there
    // decodes a syscall.  Keep 8 readable bytes after it.
    for (uint64_t off = ph[i].p_offset; off + 8 <= ph[i].p_offset + ph[i].p_filesz; off++) {
      if (base[off] == 0x0f && base[off + 1] == 0x05) {
        out.offset = static_cast<int64_t>(off);
        std::memcpy(&out.word, base + off, sizeof(out.word));
        return out;
      }
    }
  }
  return out;
}

bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::optional<uint64_t> peek_word(pid_t tid, uint64_t addr) {
  errno = 0;
  long v = ::ptrace(PTRACE_PEEKDATA, tid, addr, 0);
  if (v == -1 && errno != 0) return std::nullopt;
  return static_cast<uint64_t>(v);
}

void poke_word(pid_t tid, uint64_t addr, uint64_t word) {
  pt(PTRACE_POKEDATA, tid, addr, word, "writing the target's code");
}

SyscallSite find_syscall_site(pid_t pid, pid_t tid, const user_regs_struct& regs) {
  static const OwnVdso own = find_own_vdso_syscall();
  if (own.offset >= 0) {
    auto matches = [&](uint64_t base) {
      auto word = peek_word(tid, base + static_cast<uint64_t>(own.offset));
      return word && *word == own.word;
    };
    // auxv is cheap but goes stale if the vDSO was moved; maps is not.
    uint64_t base = proc::auxv(pid, tid, AT_SYSINFO_EHDR);
    if (base && matches(base)) return {SyscallSite::Vdso, base + static_cast<uint64_t>(own.offset)};
    auto mapped = proc::mapping_start(pid, tid, "[vdso]");
    if (mapped && matches(*mapped)) return {SyscallSite::Vdso, *mapped + static_cast<uint64_t>(own.offset)};
  }
  return {SyscallSite::Patched, regs.rip};
}

bool on_report(ThreadRecord& t, const Report& r, int request, uint64_t expect_ip, const std::string& what) {
  switch (r.kind) {
    case Report::Exited:
      t.dead = true;
      t.reaped = r.reaped;
      t.running = false;
      throw_died(t.tid, what);
    case Report::EventStop:
      // A group stop (or a stray interrupt) before the code ran: go on.
      pt(request, t.tid, 0, 0, what.c_str());
      return false;
    case Report::SignalStop:
      break;
  }
  if (is_stop_signal(r.sig)) {
    // Everything else is blocked; a stop signal cannot be: let the group
    // stop happen, it is reported next and resumed above.
    pt(request, t.tid, 0, static_cast<uint64_t>(r.sig), what.c_str());
    return false;
  }
  t.running = false;  // stopped, whatever happens next
  user_regs_struct regs;
  get_gp(t.tid, regs);
  if (r.sig == SIGTRAP && regs.rip == expect_ip) return true;
  throw Error(what + " in thread " + std::to_string(t.tid) + " failed: stopped by signal " + std::to_string(r.sig) +
              " (" + strsignal(r.sig) + ") at ip " + hex(regs.rip) + " instead of a trap at " + hex(expect_ip));
}

void run_to_trap(ThreadRecord& t, int request, uint64_t expect_ip, Deadline deadline, const std::string& what) {
  pt(request, t.tid, 0, 0, what.c_str());
  t.running = true;
  for (;;) {
    auto r = wait_report(t.tid, t.own_child, deadline);
    if (!r)
      throw Error(what + " in thread " + std::to_string(t.tid) + " did not finish in time");
    if (on_report(t, *r, request, expect_ip, what)) return;
  }
}

long remote_syscall(ThreadRecord& t, const SyscallSite& site, const user_regs_struct& base, Deadline deadline,
                    long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  std::string what = "remote syscall " + std::to_string(nr);
  user_regs_struct regs = base;
  regs.rip = site.addr;
  regs.rax = static_cast<uint64_t>(nr);
  // Not "in a syscall": the kernel must not apply its restart logic to the
  // injected frame when the thread leaves its stop.
  regs.orig_rax = static_cast<uint64_t>(-1);
  regs.rdi = a1;
  regs.rsi = a2;
  regs.rdx = a3;
  regs.r10 = a4;
  regs.r8 = a5;
  regs.r9 = a6;
  regs.eflags &= ~kFlagTrap;
  set_gp(t.tid, regs);

  if (site.kind == SyscallSite::Vdso) {
    run_to_trap(t, PTRACE_SINGLESTEP, site.addr + 2, deadline, what);
  } else if (site.kind == SyscallSite::Trapped) {
    run_to_trap(t, PTRACE_CONT, site.addr + 3, deadline, what);
  } else {
    auto orig = peek_word(t.tid, site.addr);
    if (!orig) throw Error(what + ": cannot read the code at " + hex(site.addr) + " of thread " + std::to_string(t.tid));
    t.patched = {site.addr, *orig};
    poke_word(t.tid, site.addr, (*orig & ~0xffffffULL) | kSyscallTrap);
    run_to_trap(t, PTRACE_CONT, site.addr + 3, deadline, what);
    poke_word(t.tid, site.addr, *orig);
    t.patched.reset();
  }
  get_gp(t.tid, regs);
  return static_cast<long>(regs.rax);
}

}  // namespace compel::detail
