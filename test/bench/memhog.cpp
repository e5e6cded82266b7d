// The benchmark's target: touches N MiB of anonymous memory, each page with
// distinct content, tells the caller (a line on stdout, a regular file) and
// then idles until killed.  On SIGTERM it verifies its memory and prints
// "OK" or "BAD", so the benchmark also proves the restore was right.
//
//   ckpt_bench_memhog MIB                  one process, one thread
//   ckpt_bench_memhog MIB --threads N      N threads (idle in a futex wait)
//   ckpt_bench_memhog MIB --procs N        N processes of MIB each
//   ckpt_bench_memhog MIB --shared         MIB of MAP_SHARED memory, and a
//                                          child that maps it too
//   ckpt_bench_memhog MIB --prot-none      one page of every MiB made
//                                          PROT_NONE once written (made
//                                          readable again to verify)
//
// With several processes the root forwards SIGTERM to the others and says
// OK only if each of them verified its memory.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace {

uint64_t pattern(size_t i, uint64_t salt) { return (i + salt) * 0x9e3779b97f4a7c15ull; }

uint64_t* touch(size_t size, int flags, uint64_t salt) {
  auto* mem = static_cast<uint64_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED) exit(1);
  for (size_t i = 0; i < size / 8; i += 512) mem[i] = pattern(i, salt);
  return mem;
}

bool verify(const uint64_t* mem, size_t size, uint64_t salt) {
  for (size_t i = 0; i < size / 8; i += 512)
    if (mem[i] != pattern(i, salt)) return false;
  return true;
}

// SIGTERM is blocked everywhere and taken here, whichever thread it hit.
void wait_term() {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  int sig;
  sigwait(&term, &sig);
}

int idle_futex = 0;
void* idle(void*) {
  for (;;) syscall(SYS_futex, &idle_futex, FUTEX_WAIT, 0, nullptr, nullptr, 0);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], nullptr, 10) : 256;
  size_t size = mib << 20;
  int threads = 1, procs = 1;
  bool shared = false, prot_none = false;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--procs") && i + 1 < argc) procs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--shared")) shared = true, procs = 2;
    else if (!strcmp(argv[i], "--prot-none")) prot_none = true;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);

  uint64_t* mem = touch(size, shared ? MAP_SHARED : MAP_PRIVATE, 0);
  if (prot_none)
    for (size_t at = 0; at < size; at += 1 << 20)
      if (mprotect(reinterpret_cast<char*>(mem) + at, 4096, PROT_NONE) != 0) exit(1);
  std::vector<pid_t> children;
  for (int p = 1; p < procs; p++) {
    pid_t c = fork();
    if (c == 0) {
      uint64_t* own = shared ? mem : touch(size, MAP_PRIVATE, uint64_t(p));
      if (!shared) munmap(mem, size);
      wait_term();
      _exit(verify(own, size, shared ? 0 : uint64_t(p)) ? 0 : 1);
    }
    children.push_back(c);
  }
  for (int t = 1; t < threads; t++) {
    pthread_t th;
    pthread_create(&th, nullptr, idle, nullptr);
  }
  printf("ready %zu MiB, %d threads, %d processes%s%s\n", mib, threads, procs, shared ? ", shared" : "",
         prot_none ? ", a PROT_NONE page every MiB" : "");
  fflush(stdout);
  wait_term();
  if (prot_none && mprotect(mem, size, PROT_READ | PROT_WRITE) != 0) exit(1);
  bool ok = verify(mem, size, 0);
  for (pid_t c : children) {
    kill(c, SIGTERM);
    int st = 0;
    ok &= waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  printf(ok ? "OK\n" : "BAD\n");
  return ok ? 0 : 1;
}
