// The autogroup nice value of each session and each process's
// coredump_filter across the round trip, in a tree of two sessions:
//
//   R   the root, leader of its session (the driver makes it one):
//       autogroup nice 4, coredump_filter 0x13
//   ├── A   forked into R's session: shares R's autogroup (nice 4, the
//   │       same autogroup id), coredump_filter 0x7 of its own
//   └── B   setsid: an autogroup of its own, nice 7; coredump_filter 0x3f
//
// Each child sets its state and tells R (SIGUSR1); on SIGTERM R reads
// /proc of all three: the nice values, that A still shares R's autogroup
// and B has another, and the filters.  Then it lets the children end
// (SIGUSR2) and reaps them.
#include "mtlib.h"

#include <fcntl.h>
#include <sys/prctl.h>

#include <string>
#include <tuple>

namespace {

struct Autogroup {
  long id = -1;
  int nice = 0;
};

Autogroup autogroup_of(pid_t pid) {
  std::string text = rt::read_text("/proc/" + std::to_string(pid) + "/autogroup");
  Autogroup a;
  if (sscanf(text.c_str(), "/autogroup-%ld nice %d", &a.id, &a.nice) != 2) a.id = -1;
  return a;
}

unsigned coredump_filter_of(pid_t pid) {
  return unsigned(strtoul(rt::read_text("/proc/" + std::to_string(pid) + "/coredump_filter").c_str(), nullptr, 16));
}

bool write_self(const char* leaf, const std::string& value) {
  int fd = open((std::string("/proc/self/") + leaf).c_str(), O_WRONLY);
  if (fd < 0) return false;
  bool ok = write(fd, value.data(), value.size()) == ssize_t(value.size());
  close(fd);
  return ok;
}

// A child: sets its state, tells the parent, waits (bounded) for SIGUSR2.
[[noreturn]] void child(bool own_session, unsigned filter, int nice, pid_t parent) {
  // Ends with the root, whatever ends it (a failed test kills only the root).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(9);
  if (own_session && setsid() < 0) _exit(10);
  if (!write_self("coredump_filter", "0x" + [&] {
        char b[16];
        snprintf(b, sizeof(b), "%x", filter);
        return std::string(b);
      }()))
    _exit(11);
  // Without CAP_SYS_ADMIN the kernel takes one autogroup write per 100 ms.
  if (nice && !rt::poll_until([&] { return write_self("autogroup", std::to_string(nice)); }, 5)) _exit(12);
  kill(getppid(), SIGUSR1);
  rt::await_signal(SIGUSR2, "SIGUSR2 from the root", rt::kWaitLimitSeconds);
  _exit(0);
}

pid_t spawn(bool own_session, unsigned filter, int nice) {
  pid_t parent = getpid();
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork");
  if (pid == 0) child(own_session, filter, nice, parent);
  rt::await_signal(SIGUSR1, "the child's SIGUSR1", 60);
  return pid;
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1, SIGUSR2});
  RT_CHECK(getsid(0) == getpid(), "the root does not lead its session");
  RT_CHECK(write_self("coredump_filter", "0x13"), "cannot write coredump_filter: %s", strerror(errno));
  RT_CHECK(rt::poll_until([] { return write_self("autogroup", "4"); }, 5), "cannot write autogroup: %s",
           strerror(errno));
  pid_t a = spawn(false, 0x7, 0);
  pid_t b = spawn(true, 0x3f, 7);

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  Autogroup r_group = autogroup_of(getpid()), a_group = autogroup_of(a), b_group = autogroup_of(b);
  if (r_group.id < 0 || r_group.nice != 4) v.add("R: autogroup %ld nice %d, want nice 4", r_group.id, r_group.nice);
  if (a_group.id != r_group.id || a_group.nice != 4)
    v.add("A: autogroup %ld nice %d, want R's (%ld, nice 4)", a_group.id, a_group.nice, r_group.id);
  if (b_group.id < 0 || b_group.id == r_group.id || b_group.nice != 7)
    v.add("B: autogroup %ld nice %d, want one of its own (not R's %ld) with nice 7", b_group.id, b_group.nice,
          r_group.id);
  if (getsid(b) != b) v.add("B: session %d, want its own", getsid(b));
  for (auto [who, pid, want] : {std::tuple{"R", getpid(), 0x13u}, std::tuple{"A", a, 0x7u}, std::tuple{"B", b, 0x3fu}})
    if (unsigned got = coredump_filter_of(pid); got != want) v.add("%s: coredump_filter %#x, want %#x", who, got, want);
  for (auto [who, pid] : {std::pair{"A", a}, std::pair{"B", b}}) {
    kill(pid, SIGUSR2);
    int status = rt::await_child(pid, 30);
    if (status != 0) v.add("%s ended with status %#x", who, status);
  }
  v.finish();
}
