// Unix socket states the dump refuses by name, chosen by CKPT_TEST_UNIX:
//   pending-data   a client wrote on a connection its listener has not
//                  accepted (the data sits where only accept() reads it)
//   inflight-cycle two socket pairs, each with one end in flight in the
//                  other pair's queue (each would be opened before the other)
// The program then checks it still has what it had.
#include "unixlib.h"

namespace {

void send_fd(int sock, int fd) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  char byte = 'x';
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  RT_CHECK(sendmsg(sock, &msg, 0) == 1, "sendmsg SCM_RIGHTS: %s", strerror(errno));
}

int recv_fd(int sock) {
  char byte;
  char control[CMSG_SPACE(sizeof(int))];
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  RT_CHECK(recvmsg(sock, &msg, MSG_DONTWAIT) == 1, "recvmsg: %s", strerror(errno));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  RT_CHECK(c && c->cmsg_type == SCM_RIGHTS, "the fd in flight is gone");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

}  // namespace

int main() {
  const char* what = getenv("CKPT_TEST_UNIX");
  RT_CHECK(what, "CKPT_TEST_UNIX is not set");
  std::string w = what;
  std::string name = "@ckpt-rt-refused-" + std::to_string(getpid());
  int a = -1, b = -1;  // what the check after the dump uses
  if (w == "pending-data") {
    a = ux::bound(SOCK_STREAM, name);
    RT_CHECK(listen(a, 1) == 0, "listen");
    b = socket(AF_UNIX, SOCK_STREAM, 0);
    ux::connect_to(b, name);
    ux::send_all(b, "early");
  } else if (w == "inflight-cycle") {
    int p[2], q[2];
    RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0, "pairs");
    send_fd(q[1], p[1]);  // into q[0]'s queue
    send_fd(p[1], q[1]);  // into p[0]'s queue
    close(p[1]);
    close(q[1]);
    a = p[0];
    b = q[0];
  } else {
    rt::fail("unknown CKPT_TEST_UNIX %s", what);
  }

  rt::block_term();
  rt::ready();
  rt::wait_term();

  if (w == "pending-data") {
    int served = ux::accept_within(a);
    RT_CHECK(ux::recv_exact(served, 5) == "early", "the data of the pending connection");
  } else if (w == "inflight-cycle") {
    int q1 = recv_fd(a), p1 = recv_fd(b);
    ux::send_all(p1, "p");
    ux::send_all(q1, "q");
    RT_CHECK(ux::recv_exact(a, 1) == "p" && ux::recv_exact(b, 1) == "q", "the ends in flight");
  }
  rt::pass();
}
