// SO_REUSEPORT groups across the round trip: two TCP listeners and two UDP
// sockets sharing one port each.  After the restore both listeners take
// new connections (the kernel spreads them over the group), a third
// socket with SO_REUSEPORT joins each group and one without is refused.
#include "inetlib.h"

using namespace rt::inet;

namespace {

int reuseport_socket(int type, bool reuse = true) {
  int fd = socket(AF_INET, type, 0);
  RT_CHECK(fd >= 0, "socket");
  if (reuse) setopt_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  return fd;
}

bool binds(int type, bool reuse, int port) {
  int fd = reuseport_socket(type, reuse);
  socklen_t len;
  sockaddr_storage ss = address(AF_INET, "127.0.0.1", port, &len);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  RT_CHECK(ok || errno == EADDRINUSE, "bind: %s", strerror(errno));
  close(fd);
  return ok;
}

// Connections to the group's port: how many each listener accepted.
void spread(int a, int b, int* on_a, int* on_b) {
  *on_a = *on_b = 0;
  for (int i = 0; i < 32; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect_to(c, AF_INET, "127.0.0.1", 8200);
    close(c);
  }
  for (int* count : {on_a, on_b}) {
    int fd = count == on_a ? a : b;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (int s; (s = accept(fd, nullptr, nullptr)) >= 0;) {
      ++*count;
      close(s);
    }
    RT_CHECK(errno == EAGAIN, "accept: %s", strerror(errno));
    fcntl(fd, F_SETFL, 0);
  }
  RT_CHECK(*on_a + *on_b == 32, "%d + %d connections accepted, want 32", *on_a, *on_b);
}

}  // namespace

int main() {
  int t1 = reuseport_socket(SOCK_STREAM), t2 = reuseport_socket(SOCK_STREAM);
  bind_to(t1, AF_INET, "127.0.0.1", 8200);
  bind_to(t2, AF_INET, "127.0.0.1", 8200);
  RT_CHECK(listen(t1, 64) == 0 && listen(t2, 64) == 0, "listen");
  int u1 = reuseport_socket(SOCK_DGRAM), u2 = reuseport_socket(SOCK_DGRAM);
  bind_to(u1, AF_INET, "127.0.0.1", 9200);
  bind_to(u2, AF_INET, "127.0.0.1", 9200);
  int on1, on2;
  spread(t1, t2, &on1, &on2);

  rt::block_term();
  rt::ready();
  rt::wait_term();

  for (int fd : {t1, t2}) RT_CHECK(local_of(fd) == "127.0.0.1:8200" && tcp_state(fd) == TCP_LISTEN, "fd %d", fd);
  for (int fd : {u1, u2}) RT_CHECK(local_of(fd) == "127.0.0.1:9200", "fd %d at %s", fd, local_of(fd).c_str());
  for (int fd : {t1, t2, u1, u2}) RT_CHECK(getopt_int(fd, SOL_SOCKET, SO_REUSEPORT) == 1, "fd %d lost SO_REUSEPORT", fd);
  spread(t1, t2, &on1, &on2);
  RT_CHECK(on1 > 0 && on2 > 0, "the group does not spread connections: %d and %d", on1, on2);
  RT_CHECK(binds(SOCK_DGRAM, true, 9200) && binds(SOCK_STREAM, true, 8200), "a third socket cannot join the group");
  RT_CHECK(!binds(SOCK_DGRAM, false, 9200) && !binds(SOCK_STREAM, false, 8200), "the ports are not taken");
  rt::pass();
}
