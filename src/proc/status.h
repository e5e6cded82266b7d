// /proc/PID/status: "Key:\tvalue" lines; the fields the dump needs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

struct Status {
  std::optional<uint32_t> umask;  // absent on kernels before 4.7
  char state = '?';
  pid_t tgid = 0, pid = 0, ppid = 0, tracer_pid = 0;
  uint32_t uid[4] = {}, gid[4] = {};  // real, effective, saved, filesystem
  std::vector<uint32_t> groups;
  int threads = 0;
  uint64_t sig_pending = 0;       // SigPnd: thread-private
  uint64_t shared_pending = 0;    // ShdPnd
  uint64_t sig_blocked = 0, sig_ignored = 0, sig_caught = 0;
  uint64_t cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_amb = 0;
  bool no_new_privs = false;
  int seccomp = 0;                // 0 off, 1 strict, 2 filter
};

// `origin` names the source in errors ("/proc/1234/status").
Status parse_status(std::string_view text, const std::string& origin = "status");

}  // namespace ckpt::proc
