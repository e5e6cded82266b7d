// eventfds across the round trip: counters and a semaphore, with their
// counts and flags, one of them shared with a child.
//
//   counter   count 2^32 + 5 (more than eventfd() takes at creation), blocking
//   sem       semaphore mode, count 3, O_NONBLOCK
//   empty     count 0, O_NONBLOCK
//   shared    count 10, shared with child C by fork
//
// On SIGTERM the parent asks C (SIGUSR2) to add 1 to `shared` and exit,
// then reads every count: counter 2^32 + 5 in one read, sem 1 three times
// then EAGAIN, empty EAGAIN, shared 11 (one counter for both processes).
#include "anonlib.h"
#include "fslib.h"

#include <sys/eventfd.h>
#include <sys/prctl.h>

namespace {

constexpr uint64_t kCounter = (uint64_t(1) << 32) + 5;

uint64_t read_count(int fd, const char* name) {
  uint64_t v = 0;
  ssize_t n = read(fd, &v, sizeof(v));
  RT_CHECK(n == ssize_t(sizeof(v)), "read %s: %s", name, n < 0 ? strerror(errno) : "short");
  return v;
}

void expect_empty(int fd, const char* name) {
  uint64_t v;
  RT_CHECK(read(fd, &v, sizeof(v)) < 0 && errno == EAGAIN, "%s is not empty (or not O_NONBLOCK)", name);
}

void add(int fd, uint64_t v) { RT_CHECK(write(fd, &v, sizeof(v)) == ssize_t(sizeof(v)), "write: %s", strerror(errno)); }

[[noreturn]] void child(pid_t parent, int shared) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  add(shared, 1);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2, SIGCHLD});
  int counter = eventfd(0, EFD_CLOEXEC);
  int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  int empty = eventfd(0, EFD_NONBLOCK);
  int shared = eventfd(10, EFD_NONBLOCK);
  RT_CHECK(counter >= 0 && sem >= 0 && empty >= 0 && shared >= 0, "eventfd: %s", strerror(errno));
  add(counter, kCounter);
  pid_t parent = getpid();
  pid_t c = fork();
  RT_CHECK(c >= 0, "fork");
  if (c == 0) child(parent, shared);
  rt::ready();
  rt::wait_term();

  RT_CHECK(rt::fdinfo_value(sem, "eventfd-semaphore") == "1", "sem is not in semaphore mode");
  RT_CHECK(rt::fdinfo_value(counter, "eventfd-semaphore") == "0", "counter is in semaphore mode");
  RT_CHECK(!rt::nonblocking(counter) && rt::nonblocking(sem) && rt::nonblocking(empty), "flags changed");
  RT_CHECK(fcntl(counter, F_GETFD) & FD_CLOEXEC, "counter lost FD_CLOEXEC");
  uint64_t v = read_count(counter, "counter");
  RT_CHECK(v == kCounter, "counter reads %llu, want %llu", (unsigned long long)v, (unsigned long long)kCounter);
  for (int i = 0; i < 3; i++)
    RT_CHECK(read_count(sem, "sem") == 1, "sem read %d is not 1", i);
  expect_empty(sem, "sem after three reads");
  expect_empty(empty, "empty");
  rt::check_child_passes(c, "child C");
  v = read_count(shared, "shared");
  RT_CHECK(v == 11, "shared reads %llu, want 11 (10 and the child's 1)", (unsigned long long)v);
  rt::pass();
}
