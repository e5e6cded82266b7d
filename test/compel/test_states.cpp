// Targets in different states, each infected and cured 200 times in a row,
// then checking themselves: running, blocked in read(2), in nanosleep(2),
// stopped by SIGSTOP, and eight threads at once.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

constexpr int kCycles = 200;

uint64_t read_u64(pid_t pid, uint64_t addr) {
  uint64_t v = 0;
  struct iovec local = {&v, sizeof(v)}, remote = {reinterpret_cast<void*>(addr), sizeof(v)};
  CHECK(process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof(v), "reading the target's progress");
  return v;
}

bool runs(pid_t pid, uint64_t progress_addr) {
  uint64_t p0 = read_u64(pid, progress_addr);
  return wait_until([&] { return read_u64(pid, progress_addr) != p0; }, 3000);
}

// The syscall a task sleeps in, from /proc/PID/syscall ("running" → -1).
long proc_syscall(pid_t pid) {
  std::string s = read_text("/proc/" + std::to_string(pid) + "/syscall");
  return s.empty() || s[0] < '0' || s[0] > '9' ? -1 : std::stol(s);
}

void same_registers(const compel::Registers& a, const compel::Registers& b) {
  CHECK(std::memcmp(&a.gp, &b.gp, sizeof(a.gp)) == 0, "general registers differ after cure (ip 0x", std::hex,
        a.gp.rip, " vs 0x", b.gp.rip, ")");
  CHECK(a.xstate == b.xstate, "extended registers differ after cure");
  CHECK(a.fpregs == b.fpregs, "FPU registers differ after cure");
}

}  // namespace

COMPEL_TEST(busy) {
  Target t("busy");
  uint64_t progress = std::stoull(t.ready().at(0), nullptr, 16);
  CHECK(runs(t.pid(), progress), "the target does not run");
  for (int i = 0; i < kCycles; i++) {
    FrozenTree tree = FrozenTree::seize(t.pid());
    CHECK(tree.process(t.pid()).state == compel::TaskState::Running);
    compel::Registers before = tree.get_registers(t.pid());
    {
      Infection inf = Infection::infect(tree, t.pid());
      inf.process_info();
      CHECK(inf.syscall(SYS_getpid) == t.pid());
      inf.cure();
    }
    same_registers(before, tree.get_registers(t.pid()));
    tree.release();
  }
  CHECK(runs(t.pid(), progress), "the target stopped running after the cycles");
  t.send("stop");
  t.expect_success();
}

// release() returns once every thread is detached; the thread still has to
// leave its stop, let the kernel restart the read and go back to sleep in
// it.  A seize in between (easy under load: the thread waits for a CPU)
// catches it on its way: the restart already prepared (ip back on the
// syscall instruction, ax = SYS_read again), not inside read.  So the
// first half waits, before each seize, until the target sleeps in read
// again, and checks the exact state; the second half seizes back to back
// and accepts either state, each checked at the register level.  Both
// must cure to a read that still gets its data.
COMPEL_TEST(reader) {
  Target t("reader", {"hello-compel"});
  t.ready();
  // /proc/PID/syscall also names read for a thread on its way back into it
  // (runnable, the restart prepared): asleep means state S as well.
  auto asleep_in_read = [&] { return proc_syscall(t.pid()) == SYS_read && proc_state(t.pid()) == 'S'; };
  for (int i = 0; i < kCycles; i++) {
    CHECK(wait_until(asleep_in_read, 3000), "cycle ", i, ": the target does not sleep in read");
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection&) {
      FrozenTree::SyscallState s = tree.syscall_state(t.pid());
      CHECK(s.nr == SYS_read && s.ret == -512 /* ERESTARTSYS */, "cycle ", i, ": syscall state ", s.nr, " ", s.ret);
    });
  }
  int restarting = 0;
  for (int i = 0; i < kCycles; i++) {
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection&) {
      FrozenTree::SyscallState s = tree.syscall_state(t.pid());
      compel::Registers regs = tree.get_registers(t.pid());
      constexpr uint64_t kSyscallInsn = 0x050f;  // 0f 05
      bool in_read = s.nr == SYS_read && s.ret == -512 && (read_u64(t.pid(), regs.gp.rip - 2) & 0xffff) == kSyscallInsn;
      // On its way back in: the restart prepared (ax = the read's number,
      // ip on the syscall instruction), seen either still at the end of the
      // syscall (orig_ax the read) or already back in user space before the
      // instruction ran again (orig_ax -1).
      bool at_insn = (read_u64(t.pid(), regs.gp.rip) & 0xffff) == kSyscallInsn;
      bool on_its_way = (s.nr == SYS_read || s.nr == -1) && regs.gp.rax == SYS_read && at_insn;
      CHECK(in_read || on_its_way, "back-to-back cycle ", i, ": syscall state ", s.nr, " ", s.ret, " at ip 0x",
            std::hex, regs.gp.rip);
      restarting += on_its_way;
    });
  }
  note(concat(restarting, " of ", kCycles, " back-to-back seizes caught the read being restarted"));
  CHECK(wait_until(asleep_in_read, 3000), "the target left its read");
  t.send("hello-compel");
  t.expect_success();
}

COMPEL_TEST(sleeper) {
  Target t("sleeper", {"2.1"});
  t.ready();
  auto in_sleep = [](long nr) { return nr == SYS_nanosleep || nr == SYS_clock_nanosleep || nr == SYS_restart_syscall; };
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  // The cycles must all fall inside the 2 s sleep: under load 200 of them
  // may not fit, so they stop at 1.5 s.
  int cycles = 0;
  for (int i = 0; i < kCycles && elapsed() < 1.5; i++, cycles++) {
    // Asleep again, not on its way back (see reader).
    CHECK(wait_until([&] { return in_sleep(proc_syscall(t.pid())); }, 3000), "cycle ", i,
          ": the target does not sleep");
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection&) {
      FrozenTree::SyscallState s = tree.syscall_state(t.pid());
      CHECK(in_sleep(s.nr) && s.ret == -516 /* ERESTART_RESTARTBLOCK */, "cycle ", i, ": syscall state ", s.nr, " ",
            s.ret);
    });
    // Spread the cycles over the sleep: a restart that began the 2 s anew
    // would then show clearly.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  note(concat(cycles, " cycles took ", elapsed(), " s"));
  CHECK(cycles >= 20, "only ", cycles, " cycles in 1.5 s");
  t.expect_success(5000);
}

COMPEL_TEST(stopped) {
  Target t("busy");
  uint64_t progress = std::stoull(t.ready().at(0), nullptr, 16);
  kill(t.pid(), SIGSTOP);
  CHECK(wait_until([&] { return proc_state(t.pid()) == 'T'; }, 3000), "SIGSTOP did not stop the target");
  uint64_t p0 = 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  p0 = read_u64(t.pid(), progress);
  for (int i = 0; i < kCycles; i++) {
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection&) {
      CHECK(tree.process(t.pid()).state == compel::TaskState::Stopped, "cycle ", i, ": not seen as stopped");
    });
    CHECK(wait_until([&] { return proc_state(t.pid()) == 'T'; }, 1000), "cycle ", i, ": the target is no longer stopped (",
          proc_state(t.pid()), ")");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(proc_state(t.pid()) == 'T', "the target is no longer stopped");
  CHECK(read_u64(t.pid(), progress) == p0, "the stopped target ran");
  kill(t.pid(), SIGCONT);
  CHECK(runs(t.pid(), progress), "the target does not run after SIGCONT");
  t.send("stop");
  t.expect_success();
}

COMPEL_TEST(threads) {
  Target t("threads");
  struct Expect {
    pid_t tid;
    int sig;
    uint64_t altstack, altsize;
  };
  std::vector<Expect> expect;
  for (const std::string& w : t.ready()) {
    Expect e{};
    CHECK(std::sscanf(w.c_str(), "%d:%d:%lu:%lu", &e.tid, &e.sig, &e.altstack, &e.altsize) == 4, w);
    expect.push_back(e);
  }
  CHECK(expect.size() == 7);
  for (int i = 0; i < kCycles; i++) {
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection& inf) {
      CHECK(tree.process(t.pid()).threads.size() == 8, "cycle ", i, ": ", tree.process(t.pid()).threads.size(),
            " threads seized");
      std::vector<compel::ThreadInfo> infos = inf.thread_info();
      CHECK(infos.size() == 8 && infos[0].tid == t.pid());
      CHECK(infos[0].altstack_flags == SS_DISABLE, "main thread altstack flags ", infos[0].altstack_flags);
      for (const Expect& e : expect) {
        const compel::ThreadInfo* info = nullptr;
        for (const auto& ti : infos)
          if (ti.tid == e.tid) info = &ti;
        CHECK(info, "no thread info for tid ", e.tid);
        CHECK(info->blocked & (1ULL << (e.sig - 1)), "tid ", e.tid, " mask 0x", std::hex, info->blocked);
        CHECK(!(infos[0].blocked & (1ULL << (e.sig - 1))), "main thread blocks signal ", e.sig);
        CHECK(info->altstack_sp == e.altstack && info->altstack_size == e.altsize && info->altstack_flags == 0,
              "tid ", e.tid, " altstack ", info->altstack_sp, "+", info->altstack_size);
        CHECK(info->rseq_ptr == 0 || info->rseq_len >= 32);
        CHECK(info->creds.uid == getuid() && info->creds.cap_eff != 0);
      }
    });
  }
  t.send("stop");
  t.expect_success();
}

COMPEL_TEST(stopped_threads) {
  Target t("threads");
  t.ready();
  kill(t.pid(), SIGSTOP);
  auto all_stopped = [&] {
    for (pid_t tid : thread_ids(t.pid()))
      if (proc_state(t.pid(), tid) != 'T') return false;
    return true;
  };
  CHECK(wait_until(all_stopped, 3000), "SIGSTOP did not stop every thread");
  for (int i = 0; i < 50; i++) {
    infect_cycle(t.pid(), [&](FrozenTree& tree, Infection& inf) {
      CHECK(tree.process(t.pid()).state == compel::TaskState::Stopped);
      CHECK(inf.thread_info().size() == 8);
    });
    CHECK(wait_until(all_stopped, 1000), "cycle ", i, ": a thread is no longer stopped");
  }
  kill(t.pid(), SIGCONT);
  t.send("stop");
  t.expect_success();
}
