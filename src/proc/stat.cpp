#include "proc/stat.h"

#include <vector>

#include "proc/parse_util.h"

namespace ckpt::proc {

using namespace detail;

namespace {
// Field numbers as in proc(5), counting from 1.
enum Field {
  kPid = 1, kComm, kState, kPpid, kPgrp, kSession, kTtyNr, kTpgid, kFlags,
  kNumThreads = 20, kStartTime = 22, kVsize = 23,
  kStartCode = 26, kEndCode = 27, kStartStack = 28, kExitSignal = 38,
  kStartData = 45, kEndData, kStartBrk, kArgStart, kArgEnd, kEnvStart, kEnvEnd, kExitCode,
};
}  // namespace

Stat parse_stat(std::string_view text, const std::string& origin) {
  // comm may hold anything, ") " and newlines included: it ends at the last
  // ')' of the line.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    throw parse_error(origin, "no command name in parentheses");
  Stat s;
  std::vector<std::string_view> head = split_words(text.substr(0, open));
  if (head.size() != 1) throw parse_error(origin, "no pid before the command name");
  s.pid = pid_t(to_i64(head[0], origin, "pid"));
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  std::vector<std::string_view> words = split_words(rest);
  // words[0] is field 3 (state).
  auto field = [&](int n) -> std::string_view { return words[size_t(n - kState)]; };
  if (words.size() < size_t(kExitCode - kState + 1))
    throw parse_error(origin, "only " + std::to_string(words.size() + 2) + " fields, expected at least " +
                                  std::to_string(int(kExitCode)));
  if (field(kState).size() != 1) throw parse_error(origin, "bad state \"" + std::string(field(kState)) + "\"");
  s.state = field(kState)[0];
  auto i64 = [&](int n, const char* what) { return to_i64(field(n), origin, what); };
  auto u64 = [&](int n, const char* what) { return to_u64(field(n), 10, origin, what); };
  s.ppid = pid_t(i64(kPpid, "ppid"));
  s.pgrp = pid_t(i64(kPgrp, "pgrp"));
  s.session = pid_t(i64(kSession, "session"));
  s.tty_nr = int(i64(kTtyNr, "tty_nr"));
  s.flags = uint32_t(u64(kFlags, "flags"));
  s.num_threads = int(i64(kNumThreads, "num_threads"));
  s.start_time = u64(kStartTime, "starttime");
  s.vsize = u64(kVsize, "vsize");
  s.start_code = u64(kStartCode, "startcode");
  s.end_code = u64(kEndCode, "endcode");
  s.start_stack = u64(kStartStack, "startstack");
  s.exit_signal = int(i64(kExitSignal, "exit_signal"));
  s.start_data = u64(kStartData, "start_data");
  s.end_data = u64(kEndData, "end_data");
  s.start_brk = u64(kStartBrk, "start_brk");
  s.arg_start = u64(kArgStart, "arg_start");
  s.arg_end = u64(kArgEnd, "arg_end");
  s.env_start = u64(kEnvStart, "env_start");
  s.env_end = u64(kEnvEnd, "env_end");
  s.exit_code = int(i64(kExitCode, "exit_code"));
  return s;
}

}  // namespace ckpt::proc
