#include "task/prctl.h"

#include <fcntl.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/unique_fd.h"
#include "proc/read.h"
#include "restore/process_image.h"

namespace ckpt::task {

namespace {

#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED (1 << 1)
#endif

constexpr uint32_t kUnsetLoginuid = 4294967295u;
constexpr int kPrSetMemoryMerge = 67;  // <linux/prctl.h> of 6.4

// The MEMBARRIER_CMD_REGISTER_* commands, each a bit of what
// MEMBARRIER_CMD_GET_REGISTRATIONS reports.
struct MembarrierRegistration {
  uint32_t cmd;
  const char* name;
};
constexpr MembarrierRegistration kMembarrier[] = {
    {MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, "MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED"},
    {MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED"},
    {MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE"},
    {MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ"},
};
constexpr int kMembarrierGetRegistrations = 1 << 9;  // MEMBARRIER_CMD_GET_REGISTRATIONS (6.3)

uint32_t known_membarrier_bits() {
  uint32_t all = 0;
  for (const auto& r : kMembarrier) all |= r.cmd;
  return all;
}

long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : format("signal %d", sig);
}

// The state PR_SET_SPECULATION_CTRL takes to make PR_GET_SPECULATION_CTRL
// show `got` again; 0 if the system, not the thread, decides.
uint32_t speculation_to_set(int kind, int32_t got) {
  if (got < 0 || !(got & PR_SPEC_PRCTL)) return 0;
  if (got & PR_SPEC_DISABLE_NOEXEC) return PR_SPEC_DISABLE_NOEXEC;
  if (got & PR_SPEC_FORCE_DISABLE)
    // L1D flushing reads "force-disabled" when merely off; it is only ever
    // turned on and off.
    return kind == PR_SPEC_L1D_FLUSH ? PR_SPEC_DISABLE : PR_SPEC_FORCE_DISABLE;
  if (got & PR_SPEC_DISABLE) return PR_SPEC_DISABLE;
  if (got & PR_SPEC_ENABLE) return PR_SPEC_ENABLE;
  return 0;
}

uint32_t read_uint(const std::string& path) {
  std::string text = proc::read_file(path);
  try {
    return uint32_t(std::stoul(text));
  } catch (const std::exception&) {
    throw Error(format("cannot read %s: '%s' is not a number", path.c_str(), text.c_str()));
  }
}

// The task's own loginuid is the only one it may write (/proc/self, not
// /proc/PID: the kernel checks the writer is the task).
void set_loginuid(int pid, uint32_t want) {
  uint32_t have = read_uint("/proc/self/loginuid");
  if (have == want) return;
  UniqueFd fd(::open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC));
  std::string text = std::to_string(want);
  if (!fd || write(fd.get(), text.data(), text.size()) != ssize_t(text.size()))
    throw sys_error(format("cannot restore pid %d: cannot set its audit login uid to %u (ckpt has %u; changing a set "
                           "login uid needs CAP_AUDIT_CONTROL, and is refused once audit made login uids immutable)",
                           pid, want, have));
}

void set_membarrier(int pid, uint32_t want) {
  for (const auto& r : kMembarrier)
    if ((want & r.cmd) && membarrier(int(r.cmd)) < 0)
      throw sys_error(format("cannot restore pid %d: membarrier(%s)", pid, r.name));
  long got = membarrier(kMembarrierGetRegistrations);
  if (got >= 0 && uint32_t(got) != want)
    throw Error(format("cannot restore pid %d: its membarrier registrations are 0x%lx after registering 0x%x", pid,
                       got, want));
}

void set_thp_disable(int pid, uint32_t want) {
  // Inherited from ckpt through fork: set whenever it differs.
  if (uint32_t(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)) == want) return;
  unsigned long flags = (want & PR_THP_DISABLE_EXCEPT_ADVISED) ? PR_THP_DISABLE_EXCEPT_ADVISED : 0;
  if (prctl(PR_SET_THP_DISABLE, want ? 1 : 0, flags, 0, 0) < 0)
    throw sys_error(format("cannot restore pid %d: prctl(PR_SET_THP_DISABLE, %u)", pid, want));
}

}  // namespace

void fill_thread_prctl(img::ThreadCoreEntry& t, const compel::ThreadInfo& info) {
  t.set_timer_slack_ns(info.timer_slack_ns);
  t.set_pdeath_sig(info.pdeath_sig);
  img::SpeculationEntry* s = t.mutable_speculation();
  s->set_store_bypass(uint32_t(info.speculation[PR_SPEC_STORE_BYPASS]));
  s->set_indirect_branch(uint32_t(info.speculation[PR_SPEC_INDIRECT_BRANCH]));
  s->set_l1d_flush(uint32_t(info.speculation[PR_SPEC_L1D_FLUSH]));
  t.set_tsc(uint32_t(info.tsc));
  t.set_mce_kill(uint32_t(info.mce_kill));
  // (-ENODEV and the like: this CPU has no CPUID faulting, so it is on.)
  t.set_cpuid_faulting(info.cpuid == 0);
}

void fill_process_prctl(img::ProcessCoreEntry& p, pid_t pid, const compel::ProcessInfo& info, uint32_t loginuid) {
  if (info.dumpable != 0 && info.dumpable != 1)
    throw Error(format("cannot dump pid %d: its dumpable flag is %d (the kernel's SUID_DUMP_ROOT after a credential "
                       "change under fs.suid_dumpable=2), which prctl(PR_SET_DUMPABLE) cannot set again",
                       pid, info.dumpable));
  p.set_dumpable(info.dumpable == 1);
  p.set_child_subreaper(info.child_subreaper);
  p.set_thp_disable(uint32_t(info.thp_disable));
  if (info.membarrier >= 0) {
    uint32_t unknown = uint32_t(info.membarrier) & ~known_membarrier_bits();
    if (unknown)
      throw Error(format("cannot dump pid %d: it has membarrier registrations 0x%x unknown to ckpt", pid, unknown));
    p.set_membarrier_registrations(uint32_t(info.membarrier));
  } else {
    LOG_WARN("pid %d: its membarrier registrations cannot be read on this kernel (%s); it gets none after a restore",
             pid, std::strerror(-info.membarrier));
  }
  p.set_loginuid(loginuid);
  if (info.memory_merge >= 0) p.set_memory_merge(info.memory_merge == 1);
}

uint32_t read_loginuid(pid_t pid, const std::vector<pid_t>& tids) {
  uint32_t first = 0;
  for (size_t i = 0; i < tids.size(); i++) {
    uint32_t v = read_uint(proc::path(pid, "task/" + std::to_string(tids[i]) + "/loginuid"));
    if (i == 0) first = v;
    else if (v != first)
      throw Error(format("cannot dump thread %d of pid %d: its audit login uid %u is not its process's %u (a login "
                         "uid per thread is not supported)",
                         tids[i], pid, v, first));
  }
  return tids.empty() ? kUnsetLoginuid : first;
}

ProcessPrctl process_prctl(const img::ProcessCoreEntry& p) {
  ProcessPrctl out;
  out.child_subreaper = p.child_subreaper();
  out.thp_disable = p.thp_disable();
  out.membarrier = p.membarrier_registrations();
  if (p.has_loginuid()) out.loginuid = p.loginuid();
  out.memory_merge = p.memory_merge();
  return out;
}

void apply_process_prctl(int pid, const ProcessPrctl& want) {
  if (want.child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    throw sys_error(format("cannot restore pid %d: prctl(PR_SET_CHILD_SUBREAPER)", pid));
  set_thp_disable(pid, want.thp_disable);
  if (want.membarrier) set_membarrier(pid, want.membarrier);
  // Before the blob maps the areas: each new one is then mergeable, as
  // every area of such a process was.
  if (want.memory_merge && prctl(kPrSetMemoryMerge, 1, 0, 0, 0) < 0)
    throw sys_error(format("cannot restore pid %d: prctl(PR_SET_MEMORY_MERGE, 1) (KSM for every area)",
                           pid));
  if (want.loginuid) set_loginuid(pid, *want.loginuid);
}

std::vector<ckpt_restorer_thread_prctl> thread_prctl_section(const restore::ProcessImage& p) {
  std::vector<ckpt_restorer_thread_prctl> out;
  int32_t own[3];
  for (int kind = 0; kind < 3; kind++) own[kind] = int32_t(prctl(PR_GET_SPECULATION_CTRL, kind, 0, 0, 0));
  bool main = true;
  for (const img::ThreadCoreEntry& t : p.threads) {
    bool is_main = main;
    main = false;
    ckpt_restorer_thread_prctl e{};
    e.tid = int32_t(t.tid());
    e.mce_kill = -1;
    e.cpuid = -1;
    // A main thread that had exited: nothing of it could be read, and it
    // exits again; but it must not keep the SIGKILL pdeath signal of
    // ckpt's code, which would be sent to the whole process.
    if (t.exited()) {
      out.push_back(e);
      continue;
    }
    // An older image has the main thread's only.
    e.pdeath_sig = t.has_pdeath_sig() ? t.pdeath_sig() : is_main ? p.core.process().pdeath_sig() : 0;
    e.timer_slack_ns = t.timer_slack_ns();
    e.tsc = t.tsc() == PR_TSC_SIGSEGV ? PR_TSC_SIGSEGV : 0;
    e.mce_kill = t.has_mce_kill() && t.mce_kill() != PR_MCE_KILL_DEFAULT ? int32_t(t.mce_kill()) : -1;
    e.cpuid = t.cpuid_faulting() ? 0 : -1;
    if (t.has_speculation()) {
      const img::SpeculationEntry& s = t.speculation();
      uint32_t got[3] = {s.store_bypass(), s.indirect_branch(), s.l1d_flush()};
      for (int kind = 0; kind < 3; kind++) {
        e.spec_set[kind] = speculation_to_set(kind, int32_t(got[kind]));
        e.spec_want[kind] = e.spec_set[kind] ? got[kind] : 0;
        // The thread starts with ckpt's state; a force-disable of ckpt's
        // cannot be undone in it.
        bool forced = own[kind] >= 0 && (own[kind] & PR_SPEC_FORCE_DISABLE) && kind != PR_SPEC_L1D_FLUSH;
        if (e.spec_set[kind] && forced && e.spec_set[kind] != PR_SPEC_FORCE_DISABLE)
          throw Error(format("cannot restore thread %d of pid %d: its %s was %s, but ckpt runs with it force-disabled, "
                             "which no task it creates can undo",
                             e.tid, p.pid(), speculation_kind(uint64_t(kind)), speculation_state(e.spec_set[kind])));
      }
    }
    out.push_back(e);
  }
  return out;
}

void check_root_pdeath(const restore::ProcessImage& root, bool detach) {
  if (!detach) return;
  bool main = true;
  for (const img::ThreadCoreEntry& t : root.threads) {
    int sig = t.has_pdeath_sig() ? t.pdeath_sig() : main ? root.core.process().pdeath_sig() : 0;
    main = false;
    if (sig && !t.exited())
      throw Error(format("cannot restore pid %d with -d: its thread %d has the parent-death signal %s, which would be "
                         "sent as soon as ckpt, the parent of the restored root, exits; restore it without -d (ckpt "
                         "then stays its parent until it ends)",
                         root.pid(), int(t.tid()), signal_name(sig).c_str()));
  }
}

int dumpable_after_creds(const img::ProcessCoreEntry& p) { return p.has_dumpable() ? int(p.dumpable()) : -1; }

const char* speculation_kind(uint64_t kind) {
  switch (kind) {
    case PR_SPEC_STORE_BYPASS: return "speculative store bypass";
    case PR_SPEC_INDIRECT_BRANCH: return "indirect branch speculation";
    case PR_SPEC_L1D_FLUSH: return "L1D flush on context switch";
  }
  return "an unknown speculation control";
}

const char* speculation_state(uint64_t state) {
  switch (state) {
    case PR_SPEC_ENABLE: return "PR_SPEC_ENABLE";
    case PR_SPEC_DISABLE: return "PR_SPEC_DISABLE";
    case PR_SPEC_FORCE_DISABLE: return "PR_SPEC_FORCE_DISABLE";
    case PR_SPEC_DISABLE_NOEXEC: return "PR_SPEC_DISABLE_NOEXEC";
  }
  return "an unknown state";
}

}  // namespace ckpt::task
