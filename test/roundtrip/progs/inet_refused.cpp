// What the inet modules refuse, chosen by CKPT_TEST_INET; each time the
// program runs on and checks what it holds still works:
//   established  a TCP connection to itself, accepted (both ends refused; with
//                --tcp-established both come back and talk)
//   queued       a connection waiting in a listener's accept queue
//   packet       an AF_PACKET socket
//   netlink-unread  a NETLINK_ROUTE socket with an answer not yet read
//   netlink-dump    one with a dump request answered in part
//   netfilter    a NETLINK_NETFILTER socket
//   filter       a UDP socket with a socket filter (SO_ATTACH_FILTER)
#include "inetlib.h"

#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/rtnetlink.h>

#include <string>

using namespace rt::inet;

namespace {

void talk(int a, int b) {
  char c = 0;
  RT_CHECK(write(a, "x", 1) == 1 && read(b, &c, 1) == 1 && c == 'x', "the connection does not carry data");
}

// RTM_GETLINK of lo (one answer), or of every link (a dump the kernel
// sends as the reader makes room).
void ask_links(int nl, bool dump) {
  struct {
    nlmsghdr h;
    ifinfomsg i;
  } req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = dump ? 0 : 1;
  RT_CHECK(send(nl, &req, sizeof(req), 0) == ssize_t(sizeof(req)), "RTM_GETLINK");
}

}  // namespace

int main() {
  const char* mode = getenv("CKPT_TEST_INET");
  RT_CHECK(mode, "CKPT_TEST_INET is not set");
  std::string m = mode;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  setopt_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
  bind_to(l, AF_INET, "127.0.0.1", 5000);
  RT_CHECK(listen(l, 4) == 0, "listen");
  int client = -1, server = -1, other = -1;
  if (m == "established" || m == "queued") {
    client = socket(AF_INET, SOCK_STREAM, 0);
    bind_to(client, AF_INET, "127.0.0.1", 41234);
    connect_to(client, AF_INET, "127.0.0.1", 5000);
    if (m == "established") server = accept(l, nullptr, nullptr);
  } else if (m == "packet") {
    other = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    RT_CHECK(other >= 0, "AF_PACKET socket: %s", strerror(errno));
  } else if (m == "netlink-unread" || m == "netlink-dump") {
    other = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    RT_CHECK(other >= 0, "netlink socket");
    // (The kernel goes on with a dump only as its answers are read.)
    ask_links(other, m == "netlink-dump");
  } else if (m == "netfilter") {
    other = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    RT_CHECK(other >= 0, "netfilter socket: %s", strerror(errno));
  } else if (m == "filter") {
    other = socket(AF_INET, SOCK_DGRAM, 0);
    sock_filter accept_all[] = {{BPF_RET | BPF_K, 0, 0, 0xffff}};
    sock_fprog prog{1, accept_all};
    RT_CHECK(setsockopt(other, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0, "SO_ATTACH_FILTER");
  } else {
    rt::fail("unknown CKPT_TEST_INET %s", mode);
  }

  rt::block_term();
  rt::ready();
  rt::wait_term();

  if (m == "queued") server = accept(l, nullptr, nullptr);
  if (server >= 0) {
    talk(client, server);
    talk(server, client);
  }
  if (m == "filter") {
    socklen_t len = 0;
    RT_CHECK(getsockopt(other, SOL_SOCKET, SO_GET_FILTER, nullptr, &len) == 0 && len == 1, "the filter is gone");
  }
  if (m == "packet") RT_CHECK(getopt_int(other, SOL_SOCKET, SO_TYPE) == SOCK_RAW, "the packet socket");
  if (m == "netlink-unread" || m == "netlink-dump") {
    char buf[8192];
    RT_CHECK(recv(other, buf, sizeof(buf), MSG_DONTWAIT) > 0, "the answer is gone");
  }
  exchange(l, AF_INET, "127.0.0.1", 5000);
  rt::pass();
}
