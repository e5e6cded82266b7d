// A datagram socket connected to a server outside the tree, bound to an
// abstract name: unix_outside.sh starts it (this program with --serve
// NAME) before the driver and passes its name in CKPT_TEST_UNIX_SERVER.
// It answers each datagram with "pong:" and the datagram, to the sender's
// name.  Without --ext-unix-sk the dump is refused and this program runs
// on; with it (dump and restore), the restored socket is connected again to
// the server by name.
#include "unixlib.h"

#include <sys/prctl.h>

namespace {

[[noreturn]] void serve(const std::string& name) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  alarm(600);
  int fd = ux::bound(SOCK_DGRAM, name);
  for (;;) {
    char buf[256];
    sockaddr_un from{};
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (sockaddr*)&from, &len);
    if (n < 0) continue;
    std::string reply = "pong:" + std::string(buf, size_t(n));
    sendto(fd, reply.data(), reply.size(), 0, (sockaddr*)&from, len);
  }
}

// The server may still be starting: connect within 10 s.
void connect_server(int fd, const std::string& name) {
  sockaddr_un a;
  socklen_t len = ux::addr(name, a);
  for (int i = 0; i < 1000; i++) {
    if (connect(fd, (sockaddr*)&a, len) == 0) return;
    usleep(10000);
  }
  rt::fail("cannot connect to the server %s: %s", name.c_str(), strerror(errno));
}

void ping(int fd, const char* what) {
  ux::send_msg(fd, what);
  std::string got = ux::recv_msg(fd);
  RT_CHECK(got == std::string("pong:") + what, "the server answered '%s' to '%s'", got.c_str(), what);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--serve") == 0) serve(argv[2]);
  const char* server = getenv("CKPT_TEST_UNIX_SERVER");
  RT_CHECK(server, "CKPT_TEST_UNIX_SERVER is not set (run by unix_outside.sh)");
  std::string server_name = server;
  std::string own_name = "@ckpt-rt-outside-client-" + std::to_string(getpid());
  int fd = ux::bound(SOCK_DGRAM, own_name);
  connect_server(fd, server_name);
  ping(fd, "before");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(ux::peer_name(fd) == server_name, "peer '%s'", ux::peer_name(fd).c_str());
  RT_CHECK(ux::sock_name(fd) == own_name, "name '%s'", ux::sock_name(fd).c_str());
  ping(fd, "after");
  rt::pass();
}
