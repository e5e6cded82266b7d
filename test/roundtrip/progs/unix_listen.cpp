// Listening unix sockets across the round trip, bound to a relative path
// (mode 0640) and to an abstract name, each with a connection not accepted
// yet, accepted after the restore; a connection accepted before the dump,
// with data queued both ways; one whose listener (abstract) was closed
// since, which keeps its names; a stream socket bound but neither
// listening nor connected, and one not even bound; a datagram socket whose socket file was
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

  // Accepted, then its listener closed.
  std::string closed_name = "@ckpt-rt-listen-closed-" + std::to_string(getpid());
  int lc = ux::bound(SOCK_STREAM, closed_name);
  RT_CHECK(listen(lc, 1) == 0, "listen");
  int orphan_client = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(orphan_client, closed_name);
  int orphan_served = ux::accept_within(lc);
  close(lc);
  ux::send_all(orphan_client, "orphan");

  unlink("idle.sock");
  int idle = ux::bound(SOCK_STREAM, "idle.sock");
  int blank = socket(AF_UNIX, SOCK_SEQPACKET, 0);

  unlink("gone.sock");
  int gone = ux::bound(SOCK_DGRAM, "gone.sock");
  RT_CHECK(unlink("gone.sock") == 0, "unlink");

  unlink("moved.sock");
  unlink("moved-here.sock");
  int moved = ux::bound(SOCK_STREAM, "moved.sock");
  RT_CHECK(listen(moved, 2) == 0, "listen");
  RT_CHECK(rename("moved.sock", "moved-here.sock") == 0 && chmod("moved-here.sock", 0600) == 0, "rename");

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

  int late_p = ux::accept_within(lp);
  int late_a = ux::accept_within(la);
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
  int fresh_served = ux::accept_within(lp);
  ux::send_all(fresh, "new");
  RT_CHECK(ux::recv_exact(fresh_served, 3) == "new", "new connection");

  RT_CHECK(ux::recv_exact(orphan_served, 6) == "orphan", "data of the connection whose listener is closed");
  RT_CHECK(ux::sock_name(orphan_served) == closed_name, "its accepted end named '%s'",
           ux::sock_name(orphan_served).c_str());
  RT_CHECK(ux::peer_name(orphan_client) == closed_name, "its client's peer '%s'", ux::peer_name(orphan_client).c_str());
  ux::send_all(orphan_served, "back");
  RT_CHECK(ux::recv_exact(orphan_client, 4) == "back", "the connection whose listener is closed, back");
  {
    // The name is free again: nobody listens on it.
    int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a;
    socklen_t len = ux::addr(closed_name, a);
    RT_CHECK(connect(probe, (sockaddr*)&a, len) < 0 && errno == ECONNREFUSED, "someone listens on %s",
             closed_name.c_str());
    close(probe);
  }
  RT_CHECK(ux::sock_name(idle) == "idle.sock" && ux::sock_name(blank).empty(), "idle sockets' names");
  RT_CHECK(listen(idle, 1) == 0, "listen on the idle socket: %s", strerror(errno));
  int to_idle = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(to_idle, "idle.sock");
  ux::connect_to(blank, abstract);
  ux::accept_within(idle);
  ux::accept_within(la);
  RT_CHECK(ux::sock_name(gone) == "gone.sock", "deleted socket named '%s'", ux::sock_name(gone).c_str());
  RT_CHECK(access("gone.sock", F_OK) != 0, "gone.sock came back");
  RT_CHECK(ux::sock_name(moved) == "moved.sock", "moved socket named '%s'", ux::sock_name(moved).c_str());
  RT_CHECK(access("moved.sock", F_OK) != 0, "moved.sock came back at its old path");
  RT_CHECK(stat("moved-here.sock", &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600,
           "moved-here.sock missing or mode 0%o", st.st_mode & 07777);
  int to_moved = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(to_moved, "moved-here.sock");
  ux::accept_within(moved);
  rt::pass();
}
