// compel dying at its worst moments: a tracer process (a child of the
// driver) freezes and infects the target, gets to a chosen point and is
// SIGKILLed there.  Nobody cures the target: it must cure itself, and come
// back running, untraced, with its maps, signal state, fds and every
// thread's mask exactly as before, and pass its own checks.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "harness.h"
#include "registry.h"

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

using Reach = std::function<void(FrozenTree&, Infection&)>;

// Each thread's signal state, which observable_state (the process's) misses.
std::string thread_masks(pid_t pid) {
  std::string out;
  for (pid_t tid : thread_ids(pid)) {
    std::string status = read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
    for (const char* key : {"\nSigBlk:", "\nSigPnd:"}) {
      size_t at = status.find(key);
      if (at != std::string::npos) out += std::to_string(tid) + status.substr(at, status.find('\n', at + 1) - at);
    }
  }
  return out;
}

// Where each thread is, for a failure message.
std::string thread_states(pid_t pid) {
  std::string out;
  for (pid_t tid : thread_ids(pid))
    out += "\n" + std::to_string(tid) + " " + proc_state(pid, tid) + " " +
           read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
  return out;
}

bool running_untraced(pid_t pid) {
  for (pid_t tid : thread_ids(pid)) {
    char st = proc_state(pid, tid);
    if (st == 't' || st == 'T' || st == '?' || st == 'Z') return false;
    std::string status = read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
    if (status.find("\nTracerPid:\t0\n") == std::string::npos) return false;
  }
  return true;
}

void say_byte(int fd, char c) { (void)!write(fd, &c, 1); }

// Runs reach in a tracer child; once it returns, the tracer says so and
// is killed, still infected.  Returns what it said ('r', or 'E' if it
// failed on the way).
char kill_tracer_at(pid_t target, const Reach& reach) {
  int say[2];
  CHECK(pipe2(say, O_CLOEXEC) == 0);
  pid_t tracer = fork();
  CHECK(tracer >= 0, "fork: ", std::strerror(errno));
  if (tracer == 0) {
    close(say[0]);
    try {
      FrozenTree tree = FrozenTree::seize(target);
      Infection inf = Infection::infect(tree, target);
      reach(tree, inf);
      say_byte(say[1], 'r');
      for (;;) pause();  // killed here, still infected
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tracer: %s\n", e.what());
    }
    say_byte(say[1], 'E');
    for (;;) pause();
  }
  close(say[1]);
  pollfd p{say[0], POLLIN, 0};
  CHECK(poll(&p, 1, 10000) == 1, "the tracer never got to its point");
  char said = '?';
  CHECK(read(say[0], &said, 1) == 1);
  close(say[0]);
  kill(tracer, SIGKILL);
  int status = 0;
  CHECK(waitpid(tracer, &status, 0) == tracer);
  return said;
}

void expect_cured(pid_t pid, const std::string& state, const std::string& masks, const char* point) {
  // (The kernel lets the threads go one by one as the tracer exits: each
  // is checked until all are back.)
  CHECK(wait_until([&] { return running_untraced(pid) && observable_state(pid) == state && thread_masks(pid) == masks; },
                   5000),
        point, ": the target did not come back:\n", line_diff(state, observable_state(pid)),
        line_diff(masks, thread_masks(pid)), "\nthreads:", thread_states(pid));
}

}  // namespace

COMPEL_TEST(tracer_dies) {
  struct Point {
    const char* name;
    Reach reach;
  };
  std::vector<Point> points = {
      {"infected", [](FrozenTree&, Infection&) {}},
      {"after a syscall", [](FrozenTree&, Infection& inf) { inf.syscall(SYS_getpid); }},
      {"after thread info", [](FrozenTree&, Infection& inf) { inf.thread_info(); }},
      {"after process info", [](FrozenTree&, Infection& inf) { inf.process_info(); }},
      {"after a splice",
       [](FrozenTree& tree, Infection& inf) {
         int out = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
         Infection::Range stack{0, 0};
         (void)tree;
         uint64_t rsp = tree.get_registers(inf.pid()).gp.rsp & ~uint64_t(4095);
         stack = {rsp, 4096};
         inf.splice_pages({stack}, out);
         close(out);
       }},
  };
  for (const char* name : {"info", "threads"}) {
    Target t(name);
    t.ready();
    pid_t pid = t.pid();
    CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(pid) + "/syscall").rfind("0 ", 0) == 0; }, 3000));
    std::string state = observable_state(pid), masks = thread_masks(pid);
    for (const Point& p : points) {
      for (int round = 0; round < 5; round++) {
        char said = kill_tracer_at(pid, p.reach);
        CHECK(said == 'r', name, " ", p.name, ": the tracer failed before its point");
        expect_cured(pid, state, masks, p.name);
      }
    }
    t.send(std::string(name) == "info" ? "exit" : "stop");
    t.expect_success();
  }
}

// The parasite blocked in vmsplice on a full pipe when compel dies: it
// must notice and leave, not wait for a reader that never comes.
COMPEL_TEST(tracer_dies_splicing) {
  Target t("info", {"16"});
  auto w = t.ready();
  pid_t pid = t.pid();
  uint64_t buf = std::stoull(w.at(0), nullptr, 16), size = std::stoull(w.at(1));
  CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(pid) + "/syscall").rfind("0 ", 0) == 0; }, 3000));
  std::string state = observable_state(pid), masks = thread_masks(pid);
  for (int round = 0; round < 5; round++) {
    int out[2];
    CHECK(pipe2(out, O_CLOEXEC) == 0);
    int said_fd[2];
    CHECK(pipe2(said_fd, O_CLOEXEC) == 0);
    pid_t tracer = fork();
    if (tracer == 0) {
      close(out[0]);
      try {
        FrozenTree tree = FrozenTree::seize(pid);
        Infection inf = Infection::infect(tree, pid);
        say_byte(said_fd[1], 's');
        inf.splice_pages({{buf, size}}, out[1]);  // nobody reads: stuck
      } catch (const std::exception& e) {
        std::fprintf(stderr, "tracer: %s\n", e.what());
      }
      say_byte(said_fd[1], 'E');
      for (;;) pause();
    }
    close(out[1]);
    close(said_fd[1]);
    pollfd p{said_fd[0], POLLIN, 0};
    CHECK(poll(&p, 1, 10000) == 1);
    char c = 0;
    CHECK(read(said_fd[0], &c, 1) == 1 && c == 's');
    // Until the output is full and the parasite's pipe too (the tracer
    // cannot drain it any more).
    int capacity = fcntl(out[0], F_GETPIPE_SZ);
    CHECK(wait_until([&] {
      int queued = 0;
      ioctl(out[0], FIONREAD, &queued);
      return queued >= capacity;
    }, 5000), "the output pipe never filled");
    std::string syscall_line;
    CHECK(wait_until([&] {
      syscall_line = read_text("/proc/" + std::to_string(pid) + "/syscall");
      return syscall_line.rfind("7 ", 0) == 0;  // poll(2): the parasite waits for room
    }, 5000), "the parasite is not waiting for room in its pipe: ", syscall_line);
    kill(tracer, SIGKILL);
    waitpid(tracer, nullptr, 0);
    close(out[0]);
    close(said_fd[0]);
    expect_cured(pid, state, masks, "splicing");
  }
  t.send("exit");
  t.expect_success();
}

// No thread has room below its stack pointer: the first cure frames borrow
// the top of the stack, which is given back both when the infection goes
// on (the frames move into the area) and when it fails right after.
COMPEL_TEST(bottom_of_stack) {
  for (const char* mode : {"plain", "mdwe"}) {
    Target t("deep_stack", {mode});
    t.ready();
    pid_t pid = t.pid();
    CHECK(wait_until([&] { return read_text("/proc/" + std::to_string(pid) + "/syscall").rfind("0 ", 0) == 0; }, 3000));
    std::string state = observable_state(pid);
    std::vector<std::string> warnings;
    for (int i = 0; i < 5; i++) {
      compel::SeizeOptions opts;
      opts.warn = [&](const std::string& w) { warnings.push_back(w); };
      FrozenTree tree = FrozenTree::seize(pid, opts);
      std::string refusal;
      try {
        Infection inf = Infection::infect(tree, pid);
        CHECK(inf.syscall(SYS_getpid) == pid);
        inf.thread_info();
        inf.cure();
      } catch (const compel::Error& e) {
        refusal = e.what();
      }
      tree.release();
      if (std::string(mode) == "mdwe")
        CHECK(refusal.find("memory-deny-write-execute") != std::string::npos, "mdwe: ", refusal);
      else
        CHECK(refusal.empty(), refusal);
    }
    CHECK(!warnings.empty() && warnings[0].find("borrow the top of thread") != std::string::npos, mode,
          ": no warning about the borrowed stack; syscall: ", read_text("/proc/" + std::to_string(pid) + "/syscall"),
          " maps:\n", read_text("/proc/" + std::to_string(pid) + "/maps"));
    CHECK(observable_state(pid) == state, mode, ": the target changed:\n", line_diff(state, observable_state(pid)));
    t.send("check");
    t.expect_success();
  }
}
