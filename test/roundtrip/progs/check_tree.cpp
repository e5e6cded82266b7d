// The target of `ckpt check -t` (check_tree.sh): a tree that keeps counting
// while it is checked, holding the blockers its mode asks for.
//
//   rt_check_tree serve PATH        a unix stream server at PATH (outside
//                                   the checked tree), holding what it accepts
//   rt_check_tree MODE HEARTBEAT [SERVER]
//     clean     nothing ckpt refuses
//     blocked   an io_uring (parent), a userfaultfd (its child), a unix
//               socket connected to SERVER, and fd 3, a pipe the caller
//               holds the other end of
//     tcp       an established TCP connection to itself over 127.0.0.1
//
// Ready: prints "ready" on stdout.  Then the parent counts, writing its count
// (8 bytes) at the start of HEARTBEAT after each step, until SIGTERM; its
// child sleeps until the parent ends.  Every wait is bounded (10 minutes).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int kLimitSeconds = 600;
volatile sig_atomic_t g_stop = 0;

[[noreturn]] void die(const char* what) {
  fprintf(stderr, "FAIL: %s: %s\n", what, strerror(errno));
  exit(1);
}

sockaddr_un unix_address(const char* path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
  return a;
}

int serve(const char* path) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a = unix_address(path);
  unlink(path);
  if (s < 0 || bind(s, (sockaddr*)&a, sizeof(a)) != 0 || listen(s, 8) != 0) die("unix server");
  printf("ready\n");
  fflush(stdout);
  alarm(kLimitSeconds);
  for (;;)
    if (accept4(s, nullptr, nullptr, SOCK_CLOEXEC) < 0 && errno != EINTR) die("accept");
}

void hold_blockers(const char* server) {
  io_uring_params params{};
  int ring = int(syscall(SYS_io_uring_setup, 4, &params));
  if (ring < 0) die("io_uring_setup");
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a = unix_address(server);
  if (sock < 0 || connect(sock, (sockaddr*)&a, sizeof(a)) != 0) die("connect to the unix server");
  if (fcntl(3, F_GETFD) < 0) die("fd 3 (a pipe from the caller)");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Each blocker once in the tree: the child holds only its own.
    close(ring);
    close(sock);
    close(3);
    if (syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY) < 0) die("userfaultfd");
    sleep(kLimitSeconds);
    _exit(0);
  }
}

void hold_tcp() {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (l < 0 || bind(l, (sockaddr*)&a, sizeof(a)) != 0 || listen(l, 1) != 0 || getsockname(l, (sockaddr*)&a, &len) != 0)
    die("tcp listener");
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || connect(c, (sockaddr*)&a, sizeof(a)) != 0) die("tcp connect");
  if (accept4(l, nullptr, nullptr, SOCK_CLOEXEC) < 0) die("tcp accept");
  close(l);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
  if (argc < 3) {
    fprintf(stderr, "usage: rt_check_tree clean|blocked|tcp HEARTBEAT [SERVER] | serve PATH\n");
    return 2;
  }
  const char* mode = argv[1];
  int beat = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (beat < 0) die("open the heartbeat file");
  if (strcmp(mode, "blocked") == 0) {
    if (argc < 4) die("blocked needs a SERVER");
    hold_blockers(argv[3]);
  } else if (strcmp(mode, "tcp") == 0) {
    hold_tcp();
  } else if (strcmp(mode, "clean") != 0) {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  signal(SIGTERM, [](int) { g_stop = 1; });
  printf("ready\n");
  fflush(stdout);
  time_t end = time(nullptr) + kLimitSeconds;
  for (uint64_t count = 1; !g_stop && time(nullptr) < end; count++) {
    if (pwrite(beat, &count, sizeof(count), 0) != sizeof(count)) die("write the heartbeat");
    timespec step{0, 1000000};
    nanosleep(&step, nullptr);
  }
  printf("PASS\n");
  return 0;
}
