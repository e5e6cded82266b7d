// A datagram socket, and a stream client, connected to a server outside
// the tree, bound to abstract names: unix_outside.sh starts it (this program with --serve
// NAME) before the driver and passes its name in CKPT_TEST_UNIX_SERVER.
// It answers each datagram with "pong:" and the datagram, to the sender's
// name.  Without --ext-unix-sk the dump is refused and this program runs
// on; with it (dump and restore), the restored sockets are connected again
// to the server by name (the stream one as a new connection).
#include "unixlib.h"

#include <poll.h>
#include <sys/prctl.h>

#include <vector>

namespace {

// Datagrams on NAME, and stream connections on NAME + "-stream", each
// answered with "pong:" and what came.
[[noreturn]] void serve(const std::string& name) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  alarm(600);
  std::vector<pollfd> fds;
  fds.push_back({ux::bound(SOCK_DGRAM, name), POLLIN, 0});
  int listener = ux::bound(SOCK_STREAM, name + "-stream");
  RT_CHECK(listen(listener, 8) == 0, "listen");
  fds.push_back({listener, POLLIN, 0});
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t i = 0; i < fds.size(); i++) {
      if (!fds[i].revents) continue;
      char buf[256];
      sockaddr_un from{};
      socklen_t len = sizeof(from);
      if (i == 1) {
        int c = accept(listener, nullptr, nullptr);
        if (c >= 0) fds.push_back({c, POLLIN, 0});
        continue;
      }
      ssize_t n = recvfrom(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT, (sockaddr*)&from, &len);
      if (n <= 0 && i > 1) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll skips it
        continue;
      }
      if (n < 0) continue;
      std::string reply = "pong:" + std::string(buf, size_t(n));
      if (i == 0) sendto(fds[i].fd, reply.data(), reply.size(), 0, (sockaddr*)&from, len);
      else send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
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
  int stream = socket(AF_UNIX, SOCK_STREAM, 0);
  connect_server(stream, server_name + "-stream");
  ping(stream, "stream-before");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(ux::peer_name(fd) == server_name, "peer '%s'", ux::peer_name(fd).c_str());
  RT_CHECK(ux::sock_name(fd) == own_name, "name '%s'", ux::sock_name(fd).c_str());
  ping(fd, "after");
  RT_CHECK(ux::peer_name(stream) == server_name + "-stream", "stream peer '%s'", ux::peer_name(stream).c_str());
  ping(stream, "stream-after");
  rt::pass();
}
