// A client in the dumped tree connected to rt_tcp_peer outside it
// (tcp_outside.sh or tcp_veth.sh starts that first): CKPT_TEST_TCP_PEER is
// "ADDR PORT" of the peer, CKPT_TEST_TCP_LOCAL "ADDR PORT" to bind to, so
// that the refusal names a known connection.  Before the dump, tcplib.h's
// queued bytes both ways, unread; after the restore (on SIGTERM) the
// exchange goes on and each side checks it byte-exact.
//
// Mode twice (CKPT_TEST_MODE): two restores of one image set, and the peer
// has one connection.  The first restored process only looks: the
// connection is ESTABLISHED between the same addresses, what it had queued
// from the peer is there (peeked, not read), and it leaves in repair mode,
// so that its close sends neither FIN nor RST and the connection is the
// second one's to go on with (the peer reads nothing before the second
// restore, tcp_outside.sh).
#include "tcplib.h"

#include <sys/stat.h>

#include <string>

using namespace rt;
using namespace rt::tcp;

namespace {

void split(const char* text, std::string* addr, int* port) {
  std::string t = text;
  size_t sp = t.rfind(' ');
  RT_CHECK(sp != std::string::npos, "'%s' is not ADDR PORT", text);
  *addr = t.substr(0, sp);
  *port = std::stoi(t.substr(sp + 1));
}

// The first restored process of mode twice.
[[noreturn]] void look_and_leave(int fd, const std::string& local, const std::string& peer, int queued) {
  RT_CHECK(inet::tcp_state(fd) == TCP_ESTABLISHED, "first restore: state %d, want ESTABLISHED", inet::tcp_state(fd));
  RT_CHECK(inet::local_of(fd) == local && inet::peer_of(fd) == peer, "first restore: %s -> %s, was %s -> %s",
           inet::local_of(fd).c_str(), inet::peer_of(fd).c_str(), local.c_str(), peer.c_str());
  int now = queued_in(fd);
  RT_CHECK(now >= queued, "first restore: %d bytes queued from the peer, %d at dump time", now, queued);
  std::string buf(size_t(now), '\0');
  ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
  RT_CHECK(n == now, "first restore: peeked %zd of %d bytes", n, now);
  size_t bad = mismatch(kSeedA, 0, buf.data(), size_t(n));
  RT_CHECK(bad == SIZE_MAX, "first restore: queued byte %zu is not the pattern", bad);
  // (Repair mode drops the socket silently at exit.)
  inet::setopt_int(fd, IPPROTO_TCP, TCP_REPAIR, 1);
  RT_CHECK(mkdir("first-restore-done", 0755) == 0, "mkdir first-restore-done: %s", strerror(errno));
  printf("first restore: %d bytes queued, byte-exact; left in repair mode\n", now);
  pass();
}

}  // namespace

int main() {
  const char* peer_env = getenv("CKPT_TEST_TCP_PEER");
  const char* local_env = getenv("CKPT_TEST_TCP_LOCAL");
  RT_CHECK(peer_env && local_env, "CKPT_TEST_TCP_PEER and CKPT_TEST_TCP_LOCAL are not set (run by tcp_outside.sh)");
  std::string peer_addr, local_addr;
  int peer_port, local_port;
  split(peer_env, &peer_addr, &peer_port);
  split(local_env, &local_addr, &local_port);
  int family = family_of(peer_addr);

  int fd = socket(family, SOCK_STREAM, 0);
  RT_CHECK(fd >= 0, "socket: %s", strerror(errno));
  inet::bind_to(fd, family, local_addr.c_str(), local_port);
  inet::connect_to(fd, family, peer_addr.c_str(), peer_port);
  queue_tree_side(fd);
  std::string local = inet::local_of(fd), peer = inet::peer_of(fd);
  int queued = queued_in(fd);
  printf("%s -> %s: %zu bytes written, %d bytes from the peer queued\n", local.c_str(), peer.c_str(), kQueued, queued);

  block_term();
  ready();
  wait_term();

  const char* mode = getenv("CKPT_TEST_MODE");
  struct stat st;
  if (mode && strcmp(mode, "twice") == 0 && stat("first-restore-done", &st) != 0)
    look_and_leave(fd, local, peer, queued);
  RT_CHECK(inet::local_of(fd) == local && inet::peer_of(fd) == peer, "%s -> %s, was %s -> %s",
           inet::local_of(fd).c_str(), inet::peer_of(fd).c_str(), local.c_str(), peer.c_str());
  double start = now_seconds();
  finish_tree_side({fd});
  printf("%s -> %s: %zu bytes each way, byte-exact, in %.0f ms\n", local.c_str(), peer.c_str(), kTotal,
         (now_seconds() - start) * 1000);
  pass();
}
