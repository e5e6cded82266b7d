// compel_bench: the median time of one infect + parasite command + cure
// cycle against a running single-threaded target and an 8-thread target.
// Each cycle is timed twice: the whole round (seize, infect, PROCESS_INFO,
// cure, release) and the infection alone (infect, PROCESS_INFO, cure).
// Then thread_info() of a 100-thread process, and the page path:
// splice_pages() of a large buffer.
// Usage: compel_bench [CYCLES [PAGES_MIB]]
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "harness.h"

using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double median, p90;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() * 9 / 10]};
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void bench(const char* label, pid_t pid, int runs) {
  std::vector<double> full, infection;
  for (int i = 0; i < runs + 20; i++) {
    auto t0 = Clock::now();
    compel::FrozenTree tree = compel::FrozenTree::seize(pid);
    auto t1 = Clock::now();
    {
      compel::Infection inf = compel::Infection::infect(tree, pid);
      inf.process_info();
      inf.cure();
    }
    double inf_ms = ms_since(t1);
    tree.release();
    double full_ms = ms_since(t0);
    if (i >= 20) {  // warm-up first
      full.push_back(full_ms);
      infection.push_back(inf_ms);
    }
  }
  Stats f = stats(full), in = stats(infection);
  std::printf("%-10s infect+PROCESS_INFO+cure: median %.3f ms (p90 %.3f)   with seize+release: median %.3f ms (p90 %.3f)\n",
              label, in.median, in.p90, f.median, f.p90);
}

// thread_info() of a process of nthreads + 1 threads, each call in a fresh
// infection (the first call borrows every thread, as a dump's does).
void bench_thread_info(int nthreads, int runs) {
  ctest::Target t("many_threads", {std::to_string(nthreads)});
  t.ready(30000);
  std::vector<double> first;
  for (int i = 0; i < runs + 2; i++) {
    compel::FrozenTree tree = compel::FrozenTree::seize(t.pid());
    {
      compel::Infection inf = compel::Infection::infect(tree, t.pid());
      auto t0 = Clock::now();
      size_t n = inf.thread_info().size();
      double ms = ms_since(t0);
      if (n != static_cast<size_t>(nthreads) + 1) throw std::runtime_error("thread_info missed threads");
      if (i >= 2) first.push_back(ms);
      inf.cure();
    }
    tree.release();
  }
  Stats s = stats(first);
  std::printf("%d threads thread_info(): median %.3f ms (p90 %.3f), %.1f us per thread\n", nthreads + 1, s.median,
              s.p90, s.median * 1000 / (nthreads + 1));
  t.send("stop");
  t.expect_success(30000);
}

// Memory out through the parasite: one splice_pages() of a whole buffer
// into /dev/null (the pipe path alone) and into a temporary file.
void bench_pages(uint64_t mib) {
  ctest::Target t("info", {std::to_string(mib)});
  auto w = t.ready(30000);
  uint64_t buf = std::stoull(w.at(0), nullptr, 16), size = std::stoull(w.at(1));
  compel::FrozenTree tree = compel::FrozenTree::seize(t.pid());
  compel::Infection inf = compel::Infection::infect(tree, t.pid());
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int file_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  for (auto [name, fd] : {std::pair{"/dev/null", null_fd}, std::pair{"a tmpfile", file_fd}}) {
    auto t0 = Clock::now();
    uint64_t n = inf.splice_pages({{buf, size}}, fd);
    double ms = ms_since(t0);
    std::printf("pages      %llu MiB into %-10s %.1f ms (%.2f GB/s)\n", (unsigned long long)(n >> 20), name, ms,
                double(n) / ms / 1e6);
  }
  close(null_fd);
  close(file_fd);
  inf.cure();
  tree.release();
  t.send("exit");
  t.expect_success(30000);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 200;
  uint64_t pages_mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256;
  syscall(SYS_close_range, 3, ~0U, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  try {
    std::printf("compel benchmark: %d cycles per target, running targets\n", runs);
    {
      ctest::Target t("busy");
      t.ready();
      bench("1 thread", t.pid(), runs);
      t.send("stop");
      t.expect_success();
    }
    {
      ctest::Target t("threads");
      t.ready();
      bench("8 threads", t.pid(), runs);
      t.send("stop");
      t.expect_success();
    }
    bench_thread_info(99, std::max(runs / 10, 5));
    if (pages_mib) bench_pages(pages_mib);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compel_bench: %s\n", e.what());
    return 1;
  }
  ctest::reap_orphans();
  return 0;
}
