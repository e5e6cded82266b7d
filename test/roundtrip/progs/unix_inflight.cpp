// What rides with unix socket messages across the round trip: a regular
// file's fd in flight (SCM_RIGHTS, its sender closed it), received after
// the restore at its offset, with the data after it; credentials (SO_PASSCRED, SCM_CREDENTIALS);
// a socket filter (SO_ATTACH_FILTER) that cuts datagrams to 4 bytes; and
// one end of a socket pair in flight to the other end, closed by the
// process (the pair is made, then its end sent again).
#include "unixlib.h"

#include <fcntl.h>
#include <linux/filter.h>

namespace {

void send_fd(int sock, int fd, const char* data) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<char*>(data), strlen(data)};
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
  RT_CHECK(sendmsg(sock, &msg, 0) == ssize_t(strlen(data)), "sendmsg SCM_RIGHTS: %s", strerror(errno));
}

// One message and what came with it: an fd (-1 if none), credentials.
struct Got {
  std::string data;
  int fd = -1;
  bool has_creds = false;
  ucred creds{};
};

Got recv_with(int sock) {
  Got g;
  char buf[256];
  char control[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(ucred))];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT);
  RT_CHECK(n >= 0, "recvmsg: %s", strerror(errno));
  g.data.assign(buf, size_t(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&g.fd, CMSG_DATA(c), sizeof(int));
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      memcpy(&g.creds, CMSG_DATA(c), sizeof(ucred));
      g.has_creds = true;
    }
  }
  return g;
}

}  // namespace

int main() {
  int f[2], c[2], t[2], p[2];
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, f) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, c) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, t) == 0, "socketpair");
  RT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0, "socketpair");
  send_fd(p[1], p[1], "P");  // into p[0]'s queue, which keeps it alive
  close(p[1]);

  int file = open("inflight.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
  RT_CHECK(file >= 0, "open");
  RT_CHECK(write(file, "0123456789", 10) == 10, "write");
  RT_CHECK(lseek(file, 3, SEEK_SET) == 3, "lseek");
  // First in the queue: a peek glues data queued before a segment with fds
  // to it (docs/fd-kinds.md).
  send_fd(f[0], file, "F");
  ux::send_all(f[0], "after");
  close(file);

  int on = 1;
  RT_CHECK(setsockopt(c[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0, "SO_PASSCRED");
  ux::send_msg(c[0], "cred");

  sock_filter cut[] = {BPF_STMT(BPF_RET | BPF_K, 4)};
  sock_fprog prog{1, cut};
  RT_CHECK(setsockopt(t[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0, "SO_ATTACH_FILTER");
  ux::send_msg(t[0], "abcdefgh");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  Got g = recv_with(f[1]);
  RT_CHECK(g.data == "F" && g.fd >= 0, "no fd in flight ('%s', fd %d)", g.data.c_str(), g.fd);
  char buf[16] = {};
  RT_CHECK(read(g.fd, buf, sizeof(buf)) == 7 && memcmp(buf, "3456789", 7) == 0, "the file in flight read '%s'", buf);
  RT_CHECK(ux::recv_exact(f[1], 5) == "after", "data after the fd");

  g = recv_with(c[1]);
  RT_CHECK(g.data == "cred" && g.has_creds, "no credentials with '%s'", g.data.c_str());
  RT_CHECK(g.creds.pid == getpid() && g.creds.uid == getuid() && g.creds.gid == getgid(),
           "credentials pid %d uid %u gid %u", g.creds.pid, g.creds.uid, g.creds.gid);
  int passcred = 0;
  socklen_t len = sizeof(passcred);
  RT_CHECK(getsockopt(c[1], SOL_SOCKET, SO_PASSCRED, &passcred, &len) == 0 && passcred, "SO_PASSCRED lost");

  RT_CHECK(ux::recv_msg(t[1]) == "abcd", "filtered datagram before the dump");
  ux::send_msg(t[0], "12345678");
  RT_CHECK(ux::recv_msg(t[1]) == "1234", "the filter is gone");
  socklen_t count = 0;
  RT_CHECK(getsockopt(t[1], SOL_SOCKET, SO_GET_FILTER, nullptr, &count) == 0 && count == 1, "filter length %u", count);
  g = recv_with(p[0]);
  RT_CHECK(g.data == "P" && g.fd >= 0, "no socket in flight ('%s', fd %d)", g.data.c_str(), g.fd);
  ux::send_all(g.fd, "hi");
  RT_CHECK(ux::recv_exact(p[0], 2) == "hi", "the end in flight is not connected to its pair");
  rt::pass();
}
