// Probes of the network facilities behind --tcp-established: TCP_REPAIR
// (through libsoccr) and nftables (to lock the network during a dump).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "check/probe.h"
#include "ckpt/error.h"
#include "ckpt/unique_fd.h"
#include "soccr.h"

namespace ckpt::check {
namespace {

UniqueFd tcp_socket() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw sys_error("cannot create a TCP socket");
  return fd;
}

struct Connection {
  UniqueFd client, server;
};

// A connected pair over 127.0.0.1 with a few bytes already delivered, so
// that both sides' sequence numbers have moved.
Connection loopback_connection() {
  UniqueFd listener = tcp_socket();
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener.get(), 1) != 0 ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw sys_error("cannot listen on 127.0.0.1");
  Connection c;
  c.client = tcp_socket();
  if (connect(c.client.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throw sys_error("cannot connect to 127.0.0.1");
  c.server.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c.server) throw sys_error("cannot accept on 127.0.0.1");
  static const char hello[] = "hello";
  if (send(c.client.get(), hello, sizeof(hello), 0) != sizeof(hello))
    throw sys_error("cannot send on loopback");
  struct pollfd p = {c.server.get(), POLLIN, 0};
  char buf[sizeof(hello)];
  if (poll(&p, 1, 1000) != 1 || recv(c.server.get(), buf, sizeof(buf), 0) != sizeof(buf))
    throw Error("the bytes sent over loopback did not arrive within 1 s");
  return c;
}

struct NftCtxFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// A table with a hooked chain and a TCP rule: what a network lock needs.
constexpr const char* kNftProbeRules =
    "add table inet ckpt_check\n"
    "add chain inet ckpt_check output { type filter hook output priority 0; policy accept; }\n"
    "add rule inet ckpt_check output ip daddr 127.0.0.2 tcp dport 1 drop\n"
    "delete table inet ckpt_check\n";

}  // namespace

std::string probe_tcp_repair() {
  Connection c = loopback_connection();
  soccr::Repair client_repair(c.client.get());
  soccr::Repair server_repair(c.server.get());
  soccr::TcpState client = soccr::save(c.client.get());
  soccr::TcpState server = soccr::save(c.server.get());
  // All data was delivered and acknowledged, so each side's send sequence is
  // the other's receive sequence.
  if (client.send_seq != server.recv_seq || server.send_seq != client.recv_seq)
    throw Error(format("the repaired sequence numbers disagree "
                       "(client send %u recv %u, server send %u recv %u)",
                       client.send_seq, client.recv_seq, server.send_seq, server.recv_seq));
  client_repair.off();
  server_repair.off();
  return {};
}

std::string probe_nftables() {
  // A private network namespace: nothing on the host sees the test table.
  // This runs in a throw-away probe process, so ckpt stays where it was.
  if (unshare(CLONE_NEWNET) != 0) throw sys_error("cannot create a network namespace for the nftables test");
  std::unique_ptr<nft_ctx, NftCtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) throw Error("nft_ctx_new failed");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), kNftProbeRules) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx.get());
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (size_t nl = err.find('\n'); nl != std::string::npos) err.resize(nl);
    if (err.empty()) err = "no error text";
    throw Error("libnftables could not add a table, chain and rule: " + err);
  }
  return {};
}

}  // namespace ckpt::check
