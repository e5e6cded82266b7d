// Remote syscalls, the parasite's commands, and cure leaving no trace.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

struct InfoTarget {
  Target t{"info"};
  uint64_t buf = 0, size = 0;
  int fd = -1;
  InfoTarget() {
    auto w = t.ready();
    buf = std::stoull(w.at(0), nullptr, 16);
    size = std::stoull(w.at(1));
    fd = std::stoi(w.at(2));
    // Settled in its read(2) before anything is compared.
    CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(t.pid()) + "/syscall").rfind("0 ", 0) == 0; },
                     3000));
  }
};

uint8_t pattern(size_t off) { return static_cast<uint8_t>((off >> 12) * 31 + (off & 4095) * 7); }

bool has_mapping(pid_t pid, uint64_t addr) {
  char start[32];
  std::snprintf(start, sizeof(start), "%lx-", static_cast<unsigned long>(addr));
  std::string maps = read_text("/proc/" + std::to_string(pid) + "/maps");
  return maps.find(std::string("\n") + start) != std::string::npos || maps.rfind(start, 0) == 0;
}

int temp_file(int extra_flags = 0) {
  int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC | extra_flags, 0600);
  CHECK(fd >= 0, "O_TMPFILE: ", std::strerror(errno));
  return fd;
}

void check_pattern(int fd, uint64_t file_off, uint64_t target_off, uint64_t len) {
  std::vector<uint8_t> data(len);
  CHECK(pread(fd, data.data(), len, static_cast<off_t>(file_off)) == static_cast<ssize_t>(len), "short output");
  for (uint64_t i = 0; i < len; i++)
    CHECK(data[i] == pattern(target_off + i), "byte ", target_off + i, " of the buffer is wrong in the output");
}

}  // namespace

COMPEL_TEST(remote_syscall) {
  InfoTarget it;
  pid_t pid = it.t.pid();
  std::string state_before = observable_state(pid);
  FrozenTree tree = FrozenTree::seize(pid);
  compel::Registers before = tree.get_registers(pid);
  {
    Infection inf = Infection::infect(tree, pid);
    CHECK(inf.parasite_area().len > 0 && has_mapping(pid, inf.parasite_area().start), "no parasite mapping");
    CHECK(inf.syscall(SYS_getpid) == pid);
    CHECK(inf.syscall(SYS_gettid) == pid);
    CHECK(inf.syscall(SYS_getppid) == getpid());
    CHECK(inf.syscall(SYS_close, 999999) == -EBADF);
    long addr = inf.syscall(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(addr > 0 && addr % 4096 == 0, "remote mmap returned ", addr);
    CHECK(has_mapping(pid, static_cast<uint64_t>(addr)), "the remote mapping is not in the target's maps");
    // The target writes its cwd into the new mapping; read it from here.
    long len = inf.syscall(SYS_getcwd, static_cast<uint64_t>(addr), 4096);
    char cwd[4096] = {}, want[4096] = {};
    struct iovec local = {cwd, sizeof(cwd)}, remote = {reinterpret_cast<void*>(addr), sizeof(cwd)};
    CHECK(process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof(cwd));
    CHECK(readlink(("/proc/" + std::to_string(pid) + "/cwd").c_str(), want, sizeof(want) - 1) > 0);
    CHECK(len == static_cast<long>(std::strlen(want) + 1) && std::strcmp(cwd, want) == 0, "getcwd gave ", cwd);
    CHECK(inf.syscall(SYS_munmap, static_cast<uint64_t>(addr), 8192) == 0);
    CHECK(!has_mapping(pid, static_cast<uint64_t>(addr)), "munmap left the mapping");
    Infection::Range area = inf.parasite_area();
    inf.cure();
    CHECK(!has_mapping(pid, area.start), "the parasite stayed mapped");
  }
  compel::Registers after = tree.get_registers(pid);
  CHECK(std::memcmp(&before.gp, &after.gp, sizeof(before.gp)) == 0, "registers differ after cure");
  CHECK(before.xstate == after.xstate, "extended registers differ after cure");
  tree.release();
  CHECK(observable_state(pid) == state_before, "the target changed:\n", line_diff(state_before, observable_state(pid)));
  it.t.send("exit");
  it.t.expect_success();
}

COMPEL_TEST(indistinguishable) {
  InfoTarget it;
  pid_t pid = it.t.pid();
  std::string state_before = observable_state(pid);
  for (int i = 0; i < 20; i++) {
    FrozenTree tree = FrozenTree::seize(pid);
    compel::Registers before = tree.get_registers(pid);
    uint64_t mask = tree.blocked_mask(pid);
    size_t pending = tree.pending_signals(pid, false).size() + tree.pending_signals(pid, true).size();
    {
      Infection inf = Infection::infect(tree, pid);
      inf.process_info();
      inf.thread_info();
      std::vector<int> fds = inf.steal_fds({it.fd});
      close(fds[0]);
      int out = temp_file();
      CHECK(inf.splice_pages({{it.buf, it.size}}, out) == it.size);
      close(out);
      inf.cure();
    }
    compel::Registers after = tree.get_registers(pid);
    CHECK(std::memcmp(&before.gp, &after.gp, sizeof(before.gp)) == 0, "registers differ after cure");
    CHECK(before.xstate == after.xstate, "extended registers differ after cure");
    CHECK(tree.blocked_mask(pid) == mask, "the signal mask differs after cure");
    CHECK(tree.pending_signals(pid, false).size() + tree.pending_signals(pid, true).size() == pending,
          "pending signals differ after cure");
    tree.release();
    std::string state_after = observable_state(pid);
    CHECK(state_after == state_before, "the target changed:\n", line_diff(state_before, state_after));
  }
  it.t.send("exit");
  it.t.expect_success();
}

COMPEL_TEST(process_info) {
  InfoTarget it;
  pid_t pid = it.t.pid();
  FrozenTree tree = FrozenTree::seize(pid);
  Infection inf = Infection::infect(tree, pid);
  compel::ProcessInfo pi = inf.process_info();
  const compel::SigAction& usr1 = pi.sigactions[SIGUSR1 - 1];
  CHECK(usr1.handler != 0 && (usr1.flags & SA_SIGINFO) && (usr1.flags & SA_RESTART) && usr1.restorer != 0);
  CHECK(usr1.mask == (1ULL << (SIGUSR2 - 1)), "SIGUSR1 mask 0x", std::hex, usr1.mask);
  CHECK(pi.sigactions[SIGUSR2 - 1].handler == reinterpret_cast<uint64_t>(SIG_IGN));
  CHECK(pi.sigactions[SIGTERM - 1].handler == reinterpret_cast<uint64_t>(SIG_DFL));
  CHECK(pi.itimer_real.interval_sec == 100 && pi.itimer_real.value_sec > 150 && pi.itimer_real.value_sec <= 200,
        "itimer ", pi.itimer_real.interval_sec, " ", pi.itimer_real.value_sec);
  CHECK(pi.itimer_virt.value_sec == 0 && pi.itimer_virt.value_usec == 0);
  CHECK(pi.posix_timers.size() == 1, pi.posix_timers.size(), " POSIX timers");
  const compel::PosixTimer& tm = pi.posix_timers[0];
  CHECK(tm.clock_id == CLOCK_MONOTONIC && tm.signo == SIGRTMIN + 2 && tm.notify == SIGEV_SIGNAL && tm.sigval == 0x1234,
        "timer clock ", tm.clock_id, " signo ", tm.signo, " notify ", tm.notify, " sigval ", tm.sigval);
  CHECK(tm.notify_tid == pid && tm.interval_sec == 7 && tm.value_sec > 250 && tm.value_sec <= 300);
  CHECK((pi.personality & UNAME26) != 0, "personality 0x", std::hex, pi.personality);
  CHECK(pi.umask == 027, "umask ", pi.umask);
  CHECK(pi.pdeath_sig == SIGHUP && pi.dumpable);

  std::vector<compel::ThreadInfo> ti = inf.thread_info();
  CHECK(ti.size() == 1 && ti[0].tid == pid);
  CHECK(ti[0].blocked == (1ULL << (SIGWINCH - 1)), "blocked 0x", std::hex, ti[0].blocked);
  CHECK(ti[0].altstack_flags == SS_DISABLE);
  CHECK(ti[0].clear_child_tid != 0, "glibc sets the main thread's clear_child_tid; compel read 0");
  const compel::Creds& c = ti[0].creds;
  CHECK(c.uid == 0 && c.euid == 0 && c.fsuid == 0 && c.gid == 0 && c.fsgid == 0);
  CHECK(c.cap_eff != 0 && c.cap_bnd != 0 && c.securebits == 0 && !c.no_new_privs);
  auto pending = tree.pending_signals(pid, false);
  auto shared = tree.pending_signals(pid, true);
  CHECK(pending.size() + shared.size() == 1, "pending signals ", pending.size(), "+", shared.size());
  const auto& si = pending.empty() ? shared[0] : pending[0];
  int signo;
  std::memcpy(&signo, si.data(), sizeof(signo));
  CHECK(signo == SIGWINCH);
  inf.cure();
  tree.release();
  it.t.send("exit");
  it.t.expect_success();
}

COMPEL_TEST(splice) {
  InfoTarget it;
  pid_t pid = it.t.pid();
  FrozenTree tree = FrozenTree::seize(pid);
  {
    Infection inf = Infection::infect(tree, pid);
    int out = temp_file();
    std::vector<Infection::Range> ranges = {{it.buf, it.size}, {it.buf + 3 * 4096, 8192}, {it.buf + it.size - 4096, 4096}};
    uint64_t n = inf.splice_pages(ranges, out);
    CHECK(n == it.size + 8192 + 4096, "spliced ", n);
    check_pattern(out, 0, 0, it.size);
    check_pattern(out, it.size, 3 * 4096, 8192);
    check_pattern(out, it.size + 8192, it.size - 4096, 4096);
    // Many small ranges: more than one batch of the parasite.
    std::vector<Infection::Range> small;
    for (uint64_t off = 0; off + 4096 <= it.size; off += 4096) small.push_back({it.buf + off + 100, 50});
    uint64_t m = inf.splice_pages(small, out);
    CHECK(m == small.size() * 50);
    for (size_t i = 0; i < small.size(); i += 97) check_pattern(out, n + i * 50, i * 4096 + 100, 50);
    close(out);
    // splice(2) refuses O_APPEND outputs; compel copies then.
    int append = temp_file(O_APPEND);
    CHECK(inf.splice_pages({{it.buf + 4096, 3 * 4096}}, append) == 3 * 4096);
    check_pattern(append, 0, 4096, 3 * 4096);
    close(append);
    // A range the target has not mapped is refused, and the infection
    // goes on working.
    int junk = temp_file();
    bool refused = false;
    try {
      inf.splice_pages({{8192, 4096}}, junk);
    } catch (const compel::Error& e) {
      refused = std::string(e.what()).find("Bad address") != std::string::npos;
      note(e.what());
    }
    close(junk);
    CHECK(refused, "splicing unmapped memory did not fail with EFAULT");
    CHECK(inf.syscall(SYS_getpid) == pid);
    inf.cure();
  }
  tree.release();
  it.t.send("exit");
  it.t.expect_success();
}

COMPEL_TEST(steal_fds) {
  InfoTarget it;
  pid_t pid = it.t.pid();
  FrozenTree tree = FrozenTree::seize(pid);
  {
    Infection inf = Infection::infect(tree, pid);
    std::vector<int> fds = inf.steal_fds({it.fd, 4});
    CHECK(fds.size() == 2);
    char text[32] = {};
    CHECK(pread(fds[0], text, sizeof(text), 0) == 14 && std::strcmp(text, "compel-fd-test") == 0, "read ", text);
    struct stat mine, theirs;
    CHECK(fstat(fds[1], &mine) == 0);
    CHECK(stat(("/proc/" + std::to_string(pid) + "/fd/4").c_str(), &theirs) == 0);
    CHECK(mine.st_ino == theirs.st_ino && S_ISFIFO(mine.st_mode), "fd 4 is not the target's control pipe");
    for (int fd : fds) close(fd);
    bool refused = false;
    try {
      inf.steal_fds({it.fd, 999});
    } catch (const compel::Error& e) {
      refused = std::string(e.what()).find("fd 999") != std::string::npos;
    }
    CHECK(refused, "taking a closed fd did not fail");
    inf.cure();
  }
  tree.release();
  it.t.send("exit");
  it.t.expect_success();
}

COMPEL_TEST(novdso) {
  Target t("novdso");
  CHECK(std::stoi(t.ready().at(0)) >= 1, "the target found no vDSO to unmap");
  pid_t pid = t.pid();
  CHECK(read_text("/proc/" + std::to_string(pid) + "/maps").find("[vdso]") == std::string::npos);
  CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(pid) + "/syscall").rfind("0 ", 0) == 0; }, 3000));
  std::string before = observable_state(pid);
  for (int i = 0; i < 50; i++) {
    infect_cycle(pid, [&](FrozenTree&, Infection& inf) {
      CHECK(inf.syscall(SYS_getpid) == pid);
      inf.thread_info();
    });
  }
  CHECK(observable_state(pid) == before, "the target changed:\n", line_diff(before, observable_state(pid)));
  t.send("exit");
  t.expect_success();
}

COMPEL_TEST(seccomp) {
  for (const char* mode : {"filter", "strict"}) {
    Target t("seccomp", {mode});
    t.ready();
    pid_t pid = t.pid();
    std::string want = std::string("Seccomp:\t") + (mode[0] == 'f' ? "2" : "1");
    CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(pid) + "/status").find(want) != std::string::npos &&
                                  read_text("/proc/" + std::to_string(pid) + "/syscall").rfind("0 ", 0) == 0; },
                     3000), mode, ": the target never settles under seccomp");
    for (int i = 0; i < 20; i++) {
      infect_cycle(pid, [&](FrozenTree&, Infection& inf) {
        CHECK(inf.syscall(SYS_getpid) == pid);
        inf.thread_info();
      });
    }
    CHECK(read_text("/proc/" + std::to_string(pid) + "/status").find(want) != std::string::npos, mode,
          ": seccomp is no longer in force");
    t.send("exit");
    t.expect_success();
  }
}
