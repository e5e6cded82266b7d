// A server in the dumped tree: a listening socket on CKPT_TEST_TCP_LISTEN
// ("ADDR PORT") and two connections it accepted from rt_tcp_peer outside
// the tree (tcp_outside.sh starts it with --connect --conns 2 --third),
// tcplib.h's queued bytes on each both ways.  After the restore (on
// SIGTERM) both connections go on byte-exact, and the listener accepts a
// third connection from the peer.
#include "tcplib.h"

#include <string>

using namespace rt;
using namespace rt::tcp;

int main() {
  const char* listen_env = getenv("CKPT_TEST_TCP_LISTEN");
  RT_CHECK(listen_env, "CKPT_TEST_TCP_LISTEN is not set (run by tcp_outside.sh)");
  std::string t = listen_env;
  size_t sp = t.rfind(' ');
  RT_CHECK(sp != std::string::npos, "'%s' is not ADDR PORT", listen_env);
  std::string addr = t.substr(0, sp);
  int port = std::stoi(t.substr(sp + 1));
  int family = family_of(addr);

  int l = socket(family, SOCK_STREAM, 0);
  inet::setopt_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
  inet::bind_to(l, family, addr.c_str(), port);
  RT_CHECK(listen(l, 8) == 0, "listen: %s", strerror(errno));
  int conns[2];
  for (int& c : conns) {
    RT_CHECK(readable_within(l, 60), "no connection from the peer within 60 s");
    c = accept(l, nullptr, nullptr);
    RT_CHECK(c >= 0, "accept: %s", strerror(errno));
  }
  for (int c : conns) queue_tree_side(c);
  std::string names[2];
  for (int i = 0; i < 2; i++) names[i] = inet::local_of(conns[i]) + " -> " + inet::peer_of(conns[i]);
  printf("listening on %s, connections %s and %s\n", inet::local_of(l).c_str(), names[0].c_str(), names[1].c_str());

  block_term();
  ready();
  wait_term();

  for (int i = 0; i < 2; i++)
    RT_CHECK(inet::local_of(conns[i]) + " -> " + inet::peer_of(conns[i]) == names[i], "connection %d is %s -> %s, was %s",
             i + 1, inet::local_of(conns[i]).c_str(), inet::peer_of(conns[i]).c_str(), names[i].c_str());
  finish_tree_side({conns[0], conns[1]});
  printf("both connections: %zu bytes each way, byte-exact\n", kTotal);

  // The peer connects once both streams ended.
  RT_CHECK(readable_within(l, 60), "the restored listener got no third connection within 60 s");
  int third = accept(l, nullptr, nullptr);
  RT_CHECK(third >= 0, "accept of the third connection: %s", strerror(errno));
  char buf[6];
  size_t got = 0;
  while (got < 6) {
    RT_CHECK(readable_within(third, 30), "third connection: nothing within 30 s");
    ssize_t n = read(third, buf + got, 6 - got);
    RT_CHECK(n > 0, "third connection: read: %s", n == 0 ? "EOF" : strerror(errno));
    got += size_t(n);
  }
  RT_CHECK(memcmp(buf, "third?", 6) == 0, "third connection sent '%.6s'", buf);
  RT_CHECK(write(third, "third!", 6) == 6, "third connection: write: %s", strerror(errno));
  printf("third connection accepted and answered\n");
  pass();
}
