// Listening unix sockets across the round trip, bound to a relative path
// (mode 0640) and to an abstract name, each with a connection not accepted
// yet, accepted after the restore; a connection accepted before the dump,
// with data queued both ways; a datagram socket whose socket file was
// deleted (its name stays, the file does not come back).
#include "unixlib.h"

#include <sys/stat.h>

int main() {
  std::string abstract = "@ckpt-rt-listen-" + std::to_string(getpid());
  unlink("listen.sock");
  int lp = ux::bound(SOCK_STREAM, "listen.sock");
  RT_CHECK(chmod("listen.sock", 0640) == 0, "chmod");
  RT_CHECK(listen(lp, 5) == 0, "listen");
  int la = ux::bound(SOCK_SEQPACKET, abstract);
  RT_CHECK(listen(la, 3) == 0, "listen");

  // Accepted before the dump, with data both ways.
  int client = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(client, "listen.sock");
  int served = accept(lp, nullptr, nullptr);
  RT_CHECK(served >= 0, "accept");
  ux::send_all(client, "request");
  ux::send_all(served, "response");
  // Pending on each listener.
  int pending_p = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(pending_p, "listen.sock");
  int pending_a = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  ux::connect_to(pending_a, abstract);

  unlink("gone.sock");
  int gone = ux::bound(SOCK_DGRAM, "gone.sock");
  RT_CHECK(unlink("gone.sock") == 0, "unlink");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  RT_CHECK(ux::recv_exact(served, 7) == "request", "queued request");
  RT_CHECK(ux::recv_exact(client, 8) == "response", "queued response");
  RT_CHECK(ux::sock_name(served) == "listen.sock", "accepted socket named '%s'", ux::sock_name(served).c_str());
  RT_CHECK(ux::peer_name(client) == "listen.sock", "client's peer '%s'", ux::peer_name(client).c_str());
  RT_CHECK(ux::sock_name(lp) == "listen.sock" && ux::sock_name(la) == abstract, "listener names");
  struct stat st;
  RT_CHECK(stat("listen.sock", &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0640,
           "listen.sock mode 0%o", st.st_mode & 07777);
  int accepting;
  socklen_t len = sizeof(accepting);
  RT_CHECK(getsockopt(lp, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting, "not listening");

  int late_p = accept(lp, nullptr, nullptr);
  RT_CHECK(late_p >= 0, "accept the pending path connection: %s", strerror(errno));
  int late_a = accept(la, nullptr, nullptr);
  RT_CHECK(late_a >= 0, "accept the pending abstract connection: %s", strerror(errno));
  ux::send_all(pending_p, "ping");
  RT_CHECK(ux::recv_exact(late_p, 4) == "ping", "pending path connection");
  ux::send_all(late_p, "pong");
  RT_CHECK(ux::recv_exact(pending_p, 4) == "pong", "pending path connection back");
  ux::send_msg(pending_a, "rec");
  RT_CHECK(ux::recv_msg(late_a) == "rec", "pending abstract connection");
  RT_CHECK(ux::peer_name(pending_a) == abstract, "pending client's peer '%s'", ux::peer_name(pending_a).c_str());

  // New clients still get in.
  int fresh = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(fresh, "listen.sock");
  int fresh_served = accept(lp, nullptr, nullptr);
  RT_CHECK(fresh_served >= 0, "accept a new connection");
  ux::send_all(fresh, "new");
  RT_CHECK(ux::recv_exact(fresh_served, 3) == "new", "new connection");

  RT_CHECK(ux::sock_name(gone) == "gone.sock", "deleted socket named '%s'", ux::sock_name(gone).c_str());
  RT_CHECK(access("gone.sock", F_OK) != 0, "gone.sock came back");
  rt::pass();
}
