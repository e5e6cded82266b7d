#include "soccr.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace soccr {
namespace {

bool set_repair(int sock, int on) {
  return setsockopt(sock, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0;
}

bool read_queue_seq(int sock, int queue, uint32_t& seq) {
  if (setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) != 0) return false;
  socklen_t len = sizeof(seq);
  return getsockopt(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &len) == 0;
}

}  // namespace

bool repair_on(int sock) { return set_repair(sock, 1); }
bool repair_off(int sock) { return set_repair(sock, 0); }

bool read_sequences(int sock, Sequences& out) {
  return read_queue_seq(sock, TCP_SEND_QUEUE, out.send_seq) &&
         read_queue_seq(sock, TCP_RECV_QUEUE, out.recv_seq);
}

}  // namespace soccr
