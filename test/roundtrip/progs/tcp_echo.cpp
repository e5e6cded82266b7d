// A client in the dumped tree that echoes everything rt_tcp_peer ping sends
// (CKPT_TEST_TCP_PEER "ADDR PORT"), dumped again and again with
// --leave-running while the peer keeps talking (tcp_leave_running.sh).  On
// SIGTERM it echoes on until the peer's EOF, then shuts down and passes; an
// EOF first, it waits for SIGTERM.  The peer judges the echoes.
#include "tcplib.h"

#include <string>

using namespace rt;

int main() {
  const char* peer_env = getenv("CKPT_TEST_TCP_PEER");
  RT_CHECK(peer_env, "CKPT_TEST_TCP_PEER is not set (run by tcp_leave_running.sh)");
  std::string t = peer_env;
  size_t sp = t.rfind(' ');
  RT_CHECK(sp != std::string::npos, "'%s' is not ADDR PORT", peer_env);
  std::string addr = t.substr(0, sp);
  int fd = socket(tcp::family_of(addr), SOCK_STREAM, 0);
  inet::connect_to(fd, tcp::family_of(addr), addr.c_str(), std::stoi(t.substr(sp + 1)));
  inet::setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  install_term_flag();
  ready();
  size_t echoed = 0;
  double term_at = 0;
  char buf[4096];
  for (;;) {
    if (g_term && term_at == 0) term_at = now_seconds();
    RT_CHECK(term_at == 0 || now_seconds() - term_at < 60, "no EOF from the peer within 60 s of SIGTERM");
    if (!tcp::readable_within(fd, 0.1)) continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    RT_CHECK(n >= 0, "read after %zu bytes: %s", echoed, strerror(errno));
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = send(fd, buf + done, size_t(n - done), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      RT_CHECK(w > 0, "write after %zu bytes: %s", echoed, strerror(errno));
      done += w;
    }
    echoed += size_t(n);
  }
  RT_CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
  printf("%zu bytes echoed, then EOF\n", echoed);
  block_term();
  if (!g_term) await_signal(SIGTERM, "SIGTERM after the peer's EOF", 60);
  pass();
}
