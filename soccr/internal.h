// soccr's own helpers, shared by its source files (not installed).
#pragma once

#include <sys/socket.h>

#include <string>

namespace soccr::detail {

// setsockopt/getsockopt of an int, throwing Error("<op> <name>: errno text").
void set_int(int sock, int level, int opt, int value, const char* name);
int get_int(int sock, int level, int opt, const char* name);
// The setsockopt/getsockopt of a struct, same errors.
void set_raw(int sock, int level, int opt, const void* value, socklen_t len, const char* name);
void get_raw(int sock, int level, int opt, void* value, socklen_t len, const char* name);
// getsockopt of a value of variable size: *len is its room, then its size.
void get_raw_len(int sock, int level, int opt, void* value, socklen_t* len, const char* name);

// TCP_REPAIR_QUEUE: which queue the next TCP_QUEUE_SEQ, send or recv acts on.
void select_queue(int sock, int queue);

// "ESTABLISHED", "LISTEN", ... for messages; "state N" for unknown values.
std::string state_name(int state);
// The TCP state of a socket (TCP_INFO's tcpi_state).
int tcp_state(int sock);

}  // namespace soccr::detail
