// Established TCP connections as the images keep them: what the restore
// locks, and what it refuses before anything is made.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gtest/gtest.h>

#include "error_of.h"
#include "files/files.h"
#include "files/module.h"
#include "files/tcp_connection.h"

using namespace ckpt;
using ckpt::test::error_of;

namespace {

std::string ipv4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return std::string(reinterpret_cast<const char*>(&a), 4);
}

// A TCP socket of the images in a connection 127.0.0.1:5000 -> 127.0.0.2:41234,
// saved with its state (`with_state`) or by --tcp-close.
img::FileEntry connection_entry(uint32_t id, bool with_state) {
  img::FileEntry f;
  f.set_id(id);
  f.set_kind(img::FILE_INET_SOCKET);
  img::InetSocketEntry* e = f.mutable_inet_sk();
  e->set_family(AF_INET);
  e->set_type(SOCK_STREAM);
  e->set_protocol(IPPROTO_TCP);
  e->set_state(TCP_ESTABLISHED);
  e->set_flags(O_RDWR);
  e->set_src_addr(ipv4("127.0.0.1"));
  e->set_src_port(5000);
  e->set_dst_addr(ipv4("127.0.0.2"));
  e->set_dst_port(41234);
  e->mutable_opts();
  if (with_state) {
    img::TcpConnection* t = e->mutable_tcp();
    t->set_send_seq(1000);
    t->set_recv_seq(2000);
    t->set_mss(65483);
  }
  return f;
}

}  // namespace

TEST(TcpConnection, TheImagesConnectionsAreWhatTheRestoreLocks) {
  files::FilesImage image;
  image.files[1] = connection_entry(1, true);
  image.files[2] = connection_entry(2, false);  // --tcp-close: comes back closed, nothing to lock
  std::vector<net::Connection> conns = files::image_connections(image);
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].family, AF_INET);
  EXPECT_EQ(conns[0].local_port, 5000);
  EXPECT_EQ(conns[0].remote_port, 41234);
  EXPECT_EQ(conns[0].text(), "127.0.0.1:5000 -> 127.0.0.2:41234");
  EXPECT_EQ(files::connection_text(image.files[1].inet_sk()), "127.0.0.1:5000 -> 127.0.0.2:41234");
}

TEST(TcpConnection, RestoreNeedsTcpEstablishedOrTcpClose) {
  const files::FileModule& inet = files::module_of(img::FILE_INET_SOCKET);
  img::FileEntry saved = connection_entry(1, true);
  EXPECT_EQ(error_of([&] { inet.check(saved, {}); }),
            "established TCP connection 127.0.0.1:5000 -> 127.0.0.2:41234: use --tcp-established (or --tcp-close)");
  EXPECT_EQ(error_of([&] { inet.check(saved, {.tcp_established = true}); }), "no error");
  EXPECT_EQ(error_of([&] { inet.check(saved, {.tcp_close = true}); }), "no error");
  // Saved by --tcp-close: it can only come back closed, and needs no option.
  EXPECT_EQ(error_of([&] { inet.check(connection_entry(2, false), {}); }), "no error");
  img::FileEntry broken = connection_entry(3, true);
  broken.mutable_inet_sk()->clear_dst_addr();
  EXPECT_EQ(error_of([&] { inet.check(broken, {.tcp_established = true}); }),
            "its established TCP connection has no addresses");
  broken = connection_entry(4, true);
  broken.mutable_inet_sk()->set_dst_addr("abc");
  EXPECT_EQ(error_of([&] { inet.check(broken, {.tcp_established = true}); }),
            "its peer address is 3 bytes, port 41234: not an IPv4 address");
}
