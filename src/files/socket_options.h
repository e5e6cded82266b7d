// The socket options of an inet socket (SocketOptions in inet.proto): read
// with getsockopt() at dump, set again with setsockopt() at restore.
#pragma once

#include "inet.pb.h"

namespace ckpt::files {

// Every option of the table that `fd` (of `family`, `protocol`) lets us
// read; an option the kernel refuses to show is left unset.
img::SocketOptions read_socket_options(int fd, int family, int protocol);

// Sets on the new socket `fd` every option of `opts` whose value differs
// from what `fd` has (a new socket: its defaults), except SO_PEEK_OFF
// (apply_peek_offset(), once queued data is back).  Throws Error naming the
// option if the kernel refuses it; an option that reads back otherwise is
// logged.  `what` names the socket in logs.
void apply_socket_options(int fd, const img::SocketOptions& opts, const char* what);

// SO_PEEK_OFF, if it was set (>= 0).
void apply_peek_offset(int fd, const img::SocketOptions& opts);

}  // namespace ckpt::files
