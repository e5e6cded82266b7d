// The NETLINK_SOCK_DIAG helper (src/files/sock_diag.h), on sockets of our
// own: a query by inode, a dump by state, attributes parsed.
#include "files/sock_diag.h"

#include <gtest/gtest.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::files::sockdiag {
namespace {

uint32_t ino_of(int fd) {
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0);
  return uint32_t(st.st_ino);
}

unix_diag_req request(uint32_t ino, uint32_t states = ~0u) {
  unix_diag_req req{};
  req.sdiag_family = AF_UNIX;
  req.udiag_states = states;
  req.udiag_ino = ino;
  req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  req.udiag_cookie[0] = req.udiag_cookie[1] = ~0u;
  return req;
}

std::vector<Record> ask(const unix_diag_req& req, bool dump) {
  return query(&req, sizeof(req), dump, sizeof(unix_diag_msg), UNIX_DIAG_MAX);
}

TEST(SockDiag, AQueryByInodeGivesThePeerAndQueue) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_EQ(send(a.get(), "12345", 5, 0), 5);
  std::vector<Record> r = ask(request(ino_of(b.get())), false);
  ASSERT_EQ(r.size(), 1u);
  unix_diag_msg m = r[0].head<unix_diag_msg>();
  EXPECT_EQ(m.udiag_ino, ino_of(b.get()));
  EXPECT_EQ(m.udiag_type, SOCK_DGRAM);
  EXPECT_EQ(r[0].get<uint32_t>(UNIX_DIAG_PEER), ino_of(a.get()));
  auto rq = r[0].get<unix_diag_rqlen>(UNIX_DIAG_RQLEN);
  ASSERT_TRUE(rq);
  EXPECT_EQ(rq->udiag_rqueue, 5u);  // a datagram socket: its first datagram
  EXPECT_FALSE(r[0].has(UNIX_DIAG_NAME));
}

TEST(SockDiag, ADumpOfListenersGivesNamesAndPendingClients) {
  std::string name = "\0ckpt-sock-diag-test-" + std::to_string(getpid());
  name[0] = '\0';
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, name.data(), name.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size());
  UniqueFd l(socket(AF_UNIX, SOCK_STREAM, 0)), c(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_EQ(bind(l.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(l.get(), 4), 0);
  ASSERT_EQ(connect(c.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  std::vector<Record> all = ask(request(0, 1u << 10 /* TCP_LISTEN */), true);
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const Record& r) { return r.head<unix_diag_msg>().udiag_ino == ino_of(l.get()); });
  ASSERT_NE(it, all.end());
  ASSERT_TRUE(it->has(UNIX_DIAG_NAME));
  const auto& raw = it->attrs.at(UNIX_DIAG_NAME);
  EXPECT_EQ(std::string(raw.begin(), raw.end()), name);
  EXPECT_EQ(it->get<uint32_t>(UNIX_DIAG_ICONS), ino_of(c.get()));
  EXPECT_EQ(it->get<unix_diag_rqlen>(UNIX_DIAG_RQLEN)->udiag_wqueue, 4u);  // the backlog
  // The client's peer is the listener's embryo socket, which has no inode.
  std::vector<Record> client = ask(request(ino_of(c.get())), false);
  ASSERT_EQ(client.size(), 1u);
  EXPECT_EQ(client[0].get<uint32_t>(UNIX_DIAG_PEER), 0u);
}

TEST(SockDiag, AQueryOfNoSuchSocketIsEmpty) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  EXPECT_TRUE(ask(request(ino_of(r.get())), false).empty());  // a pipe's inode
}

TEST(SockDiag, AShortHeaderOrAttributeIsNoValue) {
  Record r;
  r.header = {1, 2};
  EXPECT_THROW(r.head<unix_diag_msg>(), Error);
  r.attrs[UNIX_DIAG_PEER] = {1, 2};
  EXPECT_FALSE(r.get<uint32_t>(UNIX_DIAG_PEER));
  EXPECT_FALSE(r.get<uint32_t>(UNIX_DIAG_NAME));
}

}  // namespace
}  // namespace ckpt::files::sockdiag
