// libsoccr: save and restore the state of one TCP connection with the
// kernel's TCP_REPAIR mode.  This first piece puts a socket into and out of
// repair mode and reads its sequence numbers; the TCP issue grows it into a
// full save/restore.
#pragma once

#include <cstdint>
#include <string>

namespace soccr {

// Enters repair mode on a TCP socket; false with errno set if refused.
bool repair_on(int sock);
bool repair_off(int sock);

struct Sequences {
  uint32_t send_seq;
  uint32_t recv_seq;
};
// Reads the send and receive sequence numbers of a socket in repair mode.
bool read_sequences(int sock, Sequences& out);

}  // namespace soccr
