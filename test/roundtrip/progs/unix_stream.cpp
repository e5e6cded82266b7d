// Stream unix socket pairs across the round trip: data queued both ways;
// one end that wrote and shut down its sending side (the other reads the
// data, then EOF, and can still write back); one whose peer wrote and
// closed; and a parent and child that go on talking over a pair.
#include "unixlib.h"

#include <sys/wait.h>

namespace {

// The child answers each 4-byte number with the next one, until EOF.
[[noreturn]] void echo_child(int fd) {
  for (;;) {
    uint32_t n;
    std::string got = ux::recv_exact(fd, 4);
    if (got.size() < 4) _exit(got.empty() ? 0 : 3);
    memcpy(&n, got.data(), 4);
    n++;
    ux::send_all(fd, std::string(reinterpret_cast<char*>(&n), 4));
  }
}

uint32_t ask(int fd, uint32_t n) {
  ux::send_all(fd, std::string(reinterpret_cast<char*>(&n), 4));
  std::string got = ux::recv_exact(fd, 4);
  RT_CHECK(got.size() == 4, "the child did not answer %u", n);
  memcpy(&n, got.data(), 4);
  return n;
}

}  // namespace

int main() {
  int s[2], h[2], g[2], c[2];
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, h) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, g) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, c) == 0, "socketpair");
  std::string one = ux::pattern(70000, 1), other = ux::pattern(5000, 2);
  ux::send_all(s[0], one.substr(0, 100));
  ux::send_all(s[0], one.substr(100));
  ux::send_all(s[1], other);
  ux::send_all(h[0], "bye");
  RT_CHECK(shutdown(h[0], SHUT_WR) == 0, "shutdown");
  ux::send_all(g[1], "last words");
  close(g[1]);

  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    close(c[0]);
    echo_child(c[1]);
  }
  close(c[1]);
  RT_CHECK(ask(c[0], 41) == 42, "the child before the dump");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(ux::recv_exact(s[1], one.size()) == one, "stream data one way");
  RT_CHECK(ux::recv_exact(s[0], other.size()) == other, "stream data other way");
  char b;
  RT_CHECK(recv(s[1], &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more stream data than sent");
  ux::send_all(s[1], "more");
  RT_CHECK(ux::recv_exact(s[0], 4) == "more", "the pair after restore");

  RT_CHECK(ux::recv_exact(h[1], 100) == "bye", "data before the shutdown");
  RT_CHECK(recv(h[1], &b, 1, 0) == 0, "no EOF after the shutdown");
  RT_CHECK(send(h[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "the shut-down side can still send");
  ux::send_all(h[1], "reply");
  RT_CHECK(ux::recv_exact(h[0], 5) == "reply", "the other way after the shutdown");

  RT_CHECK(ux::recv_exact(g[0], 100) == "last words", "data from the closed peer");
  RT_CHECK(recv(g[0], &b, 1, 0) == 0, "no EOF from the closed peer");

  for (uint32_t n = 100; n < 110; n++) RT_CHECK(ask(c[0], n) == n + 1, "the child after the restore (%u)", n);
  close(c[0]);
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the child ended with 0x%x", status);
  rt::pass();
}
