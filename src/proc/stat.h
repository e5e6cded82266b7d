// /proc/PID/stat (and /proc/PID/task/TID/stat): one line of fields.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ckpt::proc {

struct Stat {
  pid_t pid = 0;
  std::string comm;               // between the first '(' and the last ')'
  char state = '?';
  pid_t ppid = 0, pgrp = 0, session = 0;
  int tty_nr = 0;
  uint32_t flags = 0;             // PF_*
  int num_threads = 0;
  uint64_t start_time = 0;        // clock ticks after boot
  uint64_t vsize = 0;
  uint64_t start_code = 0, end_code = 0, start_stack = 0;
  int exit_signal = 0;
  // The mm fields that prctl(PR_SET_MM_MAP) restores (0 without ptrace
  // access to the process).
  uint64_t start_data = 0, end_data = 0, start_brk = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  int exit_code = 0;
};

// `origin` names the source in errors ("/proc/1234/stat").
Stat parse_stat(std::string_view text, const std::string& origin = "stat");

}  // namespace ckpt::proc
