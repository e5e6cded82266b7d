// Objects ckpt refuses to dump, by name (CKPT_TEST_KIND): the dump must
// stop before anything changes, and the program runs on with the object.
//
//   io_uring     an io_uring instance (io_uring_setup)
//   perf         a perf event counting this task's clock
//   bpf-map      a BPF array map
//   bpf-prog     a BPF socket filter program
//   userfaultfd  a userfaultfd
//
// On SIGTERM the object still works: a NOP through the ring, the counter
// read, an element of the map, the program's fd, the userfaultfd's API.
#include "testlib.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <string>

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
