// Objects ckpt refuses to dump, by name (CKPT_TEST_KIND): the dump must
// stop before anything changes, and the program runs on with the object.
//
//   io_uring     an io_uring instance (io_uring_setup)
//   perf         a perf event counting this task's clock
//   bpf-map      a BPF array map
//   bpf-prog     a BPF socket filter program
//   userfaultfd  a userfaultfd
//   pidfd-reaped a pidfd of a child that has ended and been reaped
//   epoll-outside  an epoll set whose one target is held by no process of
//                the tree: the program registered an eventfd, handed it to
//                a grandchild that left the tree (its parent exited, so
//                the driver, a subreaper, adopted it) and closed its own;
//                the grandchild ends when the program does
//
// On SIGTERM the object still works: a NOP through the ring, the counter
// read, an element of the map, the program's fd, the userfaultfd's API,
// the pidfd's wait, the epoll registration (the grandchild writes the
// eventfd on SIGUSR2 and the set reports it).
#include "testlib.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <string>
#include <vector>

namespace {

int make_io_uring() {
  io_uring_params p{};
  return int(syscall(SYS_io_uring_setup, 4, &p));
}

int make_perf() {
  perf_event_attr a{};
  a.type = PERF_TYPE_SOFTWARE;
  a.size = sizeof(a);
  a.config = PERF_COUNT_SW_TASK_CLOCK;
  return int(syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

int make_bpf_map() {
  bpf_attr a{};
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = 8;
  a.max_entries = 1;
  return int(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
}

int make_bpf_prog() {
  // r0 = 0; exit
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  a.insns = uint64_t(uintptr_t(insns));
  a.insn_cnt = 2;
  a.license = uint64_t(uintptr_t("GPL"));
  return int(syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
}

int make_userfaultfd() { return int(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)); }

int make_reaped_pidfd() {
  pid_t c = fork();
  if (c == 0) _exit(0);
  int fd = int(syscall(SYS_pidfd_open, c, 0));
  RT_CHECK(waitpid(c, nullptr, 0) == c, "waitpid");
  return fd;
}

pid_t g_outside = 0;

// The grandchild: adopted by the driver, it holds `efd` and writes it on
// SIGUSR2; it ends when `root` does (bounded by the test's limit).
[[noreturn]] void outside_holder(pid_t root, int efd) {
  int root_fd = int(syscall(SYS_pidfd_open, root, 0));
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, nullptr);
  double deadline = rt::now_seconds() + rt::kWaitLimitSeconds;
  while (rt::now_seconds() < deadline) {
    pollfd p{root_fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) _exit(0);
    timespec ts{0, 100 * 1000 * 1000};
    if (sigtimedwait(&usr2, nullptr, &ts) == SIGUSR2) {
      uint64_t one = 1;
      (void)!write(efd, &one, sizeof(one));
    }
  }
  _exit(1);
}

// The set, registering an eventfd only the grandchild keeps.
int make_epoll_outside() {
  int set = epoll_create1(0), efd = eventfd(0, EFD_NONBLOCK);
  RT_CHECK(set >= 0 && efd >= 0, "epoll_create1, eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  RT_CHECK(epoll_ctl(set, EPOLL_CTL_ADD, efd, &ev) == 0, "EPOLL_CTL_ADD");
  int report[2];
  RT_CHECK(pipe(report) == 0, "pipe");
  pid_t root = getpid();
  pid_t a = fork();
  RT_CHECK(a >= 0, "fork");
  if (a == 0) {
    pid_t g = fork();
    if (g == 0) {
      close(report[0]);
      close(report[1]);
      outside_holder(root, efd);
    }
    (void)!write(report[1], &g, sizeof(g));
    _exit(0);
  }
  RT_CHECK(read(report[0], &g_outside, sizeof(g_outside)) == ssize_t(sizeof(g_outside)), "no grandchild pid");
  RT_CHECK(waitpid(a, nullptr, 0) == a, "waitpid");
  close(report[0]);
  close(report[1]);
  close(efd);
  return set;
}

void check_works(const std::string& kind, int fd) {
  RT_CHECK(fcntl(fd, F_GETFD) >= 0, "the %s fd %d is gone", kind.c_str(), fd);
  if (kind == "perf") {
    uint64_t count = 0;
    RT_CHECK(read(fd, &count, sizeof(count)) == ssize_t(sizeof(count)), "read the perf counter: %s", strerror(errno));
  } else if (kind == "bpf-map") {
    uint32_t key = 0;
    uint64_t value = 0;
    bpf_attr a{};
    a.map_fd = uint32_t(fd);
    a.key = uint64_t(uintptr_t(&key));
    a.value = uint64_t(uintptr_t(&value));
    RT_CHECK(syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)) == 0 && value == 77, "the map lost its element");
  } else if (kind == "userfaultfd") {
    uffdio_api api{};
    api.api = UFFD_API;
    // A second UFFDIO_API is refused: it was done before the dump.
    RT_CHECK(ioctl(fd, UFFDIO_API, &api) < 0, "the userfaultfd's API was not set");
  } else if (kind == "io_uring") {
    RT_CHECK(syscall(SYS_io_uring_enter, fd, 0, 0, 0, nullptr, 0) == 0, "io_uring_enter: %s", strerror(errno));
  } else if (kind == "pidfd-reaped") {
    RT_CHECK(poll(std::vector<pollfd>{{fd, POLLIN, 0}}.data(), 1, 0) == 1, "the pidfd of the reaped child is not readable");
  } else if (kind == "epoll-outside") {
    RT_CHECK(kill(g_outside, SIGUSR2) == 0, "signal the grandchild");
    epoll_event ev{};
    int n = epoll_wait(fd, &ev, 1, 10000);
    RT_CHECK(n == 1 && ev.data.u64 == 42, "the set does not report the grandchild's eventfd");
  }
}

}  // namespace

int main() {
  rt::block_term();
  const char* env = getenv("CKPT_TEST_KIND");
  RT_CHECK(env, "CKPT_TEST_KIND is not set");
  std::string kind = env;
  int fd = kind == "io_uring"      ? make_io_uring()
           : kind == "perf"        ? make_perf()
           : kind == "bpf-map"     ? make_bpf_map()
           : kind == "bpf-prog"    ? make_bpf_prog()
           : kind == "userfaultfd" ? make_userfaultfd()
           : kind == "pidfd-reaped" ? make_reaped_pidfd()
           : kind == "epoll-outside" ? make_epoll_outside()
                                    : -2;
  RT_CHECK(fd != -2, "unknown CKPT_TEST_KIND %s", kind.c_str());
  RT_CHECK(fd >= 0, "cannot make a %s: %s", kind.c_str(), strerror(errno));
  if (kind == "bpf-map") {
    uint32_t key = 0;
    uint64_t value = 77;
    bpf_attr a{};
    a.map_fd = uint32_t(fd);
    a.key = uint64_t(uintptr_t(&key));
    a.value = uint64_t(uintptr_t(&value));
    RT_CHECK(syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &a, sizeof(a)) == 0, "bpf map update: %s", strerror(errno));
  } else if (kind == "userfaultfd") {
    uffdio_api api{};
    api.api = UFFD_API;
    RT_CHECK(ioctl(fd, UFFDIO_API, &api) == 0, "UFFDIO_API: %s", strerror(errno));
  }
  rt::ready();
  rt::wait_term();
  check_works(kind, fd);
  rt::pass();
}
