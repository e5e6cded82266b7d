// fds on /proc entries across the round trip: each must describe the
// restored process it named (restored with its pid), not fail or describe
// another.
//
//   parent P  /proc/C/status (read to offset 9), the directory /proc/C,
//             /proc/self/status and /proc/self/stat (at offset 10), and
//             /proc/PPID/status of its own parent, outside the tree (still
//             the same process after the restore: the driver)
//   child C   /proc/P/status of its parent and /proc/self/comm, and P's
//             /proc/self/stat (P's entry) inherited by fork: one description
//   child S   /proc/C/status of its older sibling (opened after C exists)
//
// After the restore C and P change their names; P reads "Name:" and "Pid:"
// of C and of itself through the old fds, S that its fd names C, C that its
// fds name P and itself.  Offsets are where they were.  Under the driver's
// "refused" mode P instead opens /proc/C/status before forking S, so C's
// entry is shared with S: restore could not open it before forking S, and
// the dump must refuse it.
#include "fslib.h"

#include <fcntl.h>
#include <sys/prctl.h>

#include <string>

namespace {

std::string read_at(int fd, off_t at) {
  char buf[4096];
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, at);
  RT_CHECK(n >= 0, "pid %d: pread fd %d: %s", getpid(), fd, strerror(errno));
  return std::string(buf, size_t(n));
}

// The value of "Key:" in a status text.
std::string field(const std::string& text, const std::string& key) {
  size_t at = text.find("\n" + key + ":");
  if (at == std::string::npos && text.rfind(key + ":", 0) == 0) at = 0;
  else if (at != std::string::npos) at++;
  if (at == std::string::npos) return "?";
  size_t from = text.find_first_not_of(" \t", at + key.size() + 1);
  return text.substr(from, text.find('\n', from) - from);
}

void check_status(int fd, pid_t pid, const char* name, const char* who) {
  std::string text = read_at(fd, 0);
  RT_CHECK(field(text, "Pid") == std::to_string(pid), "%s: fd %d reads Pid %s, want %d", who, fd,
           field(text, "Pid").c_str(), pid);
  if (name) RT_CHECK(field(text, "Name") == name, "%s: fd %d reads Name %s, want %s", who, fd,
                     field(text, "Name").c_str(), name);
}

void check_offset(int fd, off_t want, const char* who) {
  off_t at = lseek(fd, 0, SEEK_CUR);
  RT_CHECK(at == want, "%s: fd %d is at offset %ld, want %ld", who, fd, long(at), long(want));
}

int open_proc(pid_t pid, const char* name, int flags = O_RDONLY) {
  std::string path = "/proc/" + std::to_string(pid) + (name[0] ? "/" : "") + name;
  int fd = open(path.c_str(), flags);
  RT_CHECK(fd >= 0, "open %s: %s", path.c_str(), strerror(errno));
  return fd;
}

[[noreturn]] void child_c(pid_t parent, int inherited) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NAME, "c-before");
  int parent_status = open_proc(parent, "status");
  int comm = open("/proc/self/comm", O_RDONLY);
  RT_CHECK(comm >= 0, "open /proc/self/comm");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  // After the restore: a new name, for the parent to see through its fd.
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  prctl(PR_SET_NAME, "c-after");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  rt::await_signal_from(SIGUSR2, parent, "second word from the parent");
  check_status(parent_status, parent, "p-after", "child C");
  std::string stat_text = read_at(inherited, 0);
  RT_CHECK(stat_text.rfind(std::to_string(parent) + " (p-after)", 0) == 0, "child C: the inherited fd reads %.40s",
           stat_text.c_str());
  std::string name = read_at(comm, 0);
  RT_CHECK(name == "c-after\n", "child C: its /proc/self/comm fd reads %s", name.c_str());
  _exit(0);
}

[[noreturn]] void child_s(pid_t parent, pid_t sibling) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = open_proc(sibling, "status");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "signal the parent");
  rt::await_signal_from(SIGUSR2, parent, "word from the parent");
  check_status(fd, sibling, "c-after", "child S");
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD});
  const char* mode = getenv("CKPT_TEST_MODE");
  bool refused = mode && strcmp(mode, "refused") == 0;
  prctl(PR_SET_NAME, "p-before");
  pid_t me = getpid(), outside = getppid();
  fflush(stdout);
  int inherited = open("/proc/self/stat", O_RDONLY);
  RT_CHECK(inherited >= 0, "open /proc/self/stat");
  pid_t c = fork();
  if (c == 0) child_c(me, inherited);
  rt::await_signal_from(SIGUSR1, c, "child C set up");
  int shared_early = refused ? open_proc(c, "status") : -1;  // inherited by S
  pid_t s = fork();
  if (s == 0) child_s(me, c);
  rt::await_signal_from(SIGUSR1, s, "child S set up");

  int c_status = shared_early >= 0 ? shared_early : open_proc(c, "status");
  char skip[9];
  RT_CHECK(read(c_status, skip, sizeof(skip)) == ssize_t(sizeof(skip)), "read /proc/C/status");
  int c_dir = open_proc(c, "", O_RDONLY | O_DIRECTORY);
  int own_status = open("/proc/self/status", O_RDONLY);
  int own_stat = open("/proc/self/stat", O_RDONLY);
  RT_CHECK(own_status >= 0 && own_stat >= 0, "open /proc/self/...");
  char ten[10];
  RT_CHECK(read(own_stat, ten, sizeof(ten)) == ssize_t(sizeof(ten)), "read /proc/self/stat");
  int outside_status = open_proc(outside, "status");

  rt::ready();
  rt::wait_term();
  check_offset(c_status, 9, "parent");
  check_offset(own_stat, 10, "parent");
  check_status(c_status, c, "c-before", "parent");
  prctl(PR_SET_NAME, "p-after");
  RT_CHECK(kill(c, SIGUSR2) == 0, "signal child C");
  rt::await_signal_from(SIGUSR1, c, "child C renamed");
  check_status(c_status, c, "c-after", "parent");
  int comm = openat(c_dir, "comm", O_RDONLY);
  RT_CHECK(comm >= 0, "openat(/proc/C fd, comm): %s", strerror(errno));
  std::string name = read_at(comm, 0);
  RT_CHECK(name == "c-after\n", "parent: comm through the /proc/C fd reads %s", name.c_str());
  check_status(own_status, me, "p-after", "parent");
  std::string stat_text = read_at(own_stat, 0);
  RT_CHECK(stat_text.rfind(std::to_string(me) + " (p-after)", 0) == 0, "parent: its stat fd reads %.40s",
           stat_text.c_str());
  check_status(outside_status, outside, nullptr, "parent");
  rt::check_child_passes(s, "child S");  // while C lives
  rt::check_child_passes(c, "child C");  // its second word
  rt::pass();
}
