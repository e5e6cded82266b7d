#include "proc/status.h"

#include "proc/parse_util.h"

namespace ckpt::proc {

using namespace detail;

namespace {

void parse_ids(std::string_view value, uint32_t (&ids)[4], const std::string& origin, const char* what) {
  std::vector<std::string_view> words = split_words(value);
  if (words.size() != 4) throw parse_error(origin, std::string(what) + " has " + std::to_string(words.size()) +
                                                       " values, expected 4");
  for (size_t i = 0; i < 4; ++i) ids[i] = uint32_t(to_u64(words[i], 10, origin, what));
}

}  // namespace

Status parse_status(std::string_view text, const std::string& origin) {
  Status s;
  bool seen_pid = false, seen_uid = false, seen_gid = false;
  for_each_line(text, [&](std::string_view line) {
    std::string_view key, value;
    if (line.empty() || !split_key_value(line, key, value)) return;
    auto hex = [&](const char* what) { return to_u64(value, 16, origin, what); };
    auto dec = [&](const char* what) { return to_i64(value, origin, what); };
    if (key == "Umask") s.umask = uint32_t(to_u64(value, 8, origin, "Umask"));
    else if (key == "State") s.state = value.empty() ? '?' : value[0];
    else if (key == "Tgid") s.tgid = pid_t(dec("Tgid"));
    else if (key == "Pid") s.pid = pid_t(dec("Pid")), seen_pid = true;
    else if (key == "PPid") s.ppid = pid_t(dec("PPid"));
    else if (key == "TracerPid") s.tracer_pid = pid_t(dec("TracerPid"));
    else if (key == "Uid") parse_ids(value, s.uid, origin, "Uid"), seen_uid = true;
    else if (key == "Gid") parse_ids(value, s.gid, origin, "Gid"), seen_gid = true;
    else if (key == "Groups") {
      for (std::string_view g : split_words(value)) s.groups.push_back(uint32_t(to_u64(g, 10, origin, "Groups")));
    } else if (key == "Threads") s.threads = int(dec("Threads"));
    else if (key == "SigPnd") s.sig_pending = hex("SigPnd");
    else if (key == "ShdPnd") s.shared_pending = hex("ShdPnd");
    else if (key == "SigBlk") s.sig_blocked = hex("SigBlk");
    else if (key == "SigIgn") s.sig_ignored = hex("SigIgn");
    else if (key == "SigCgt") s.sig_caught = hex("SigCgt");
    else if (key == "CapInh") s.cap_inh = hex("CapInh");
    else if (key == "CapPrm") s.cap_prm = hex("CapPrm");
    else if (key == "CapEff") s.cap_eff = hex("CapEff");
    else if (key == "CapBnd") s.cap_bnd = hex("CapBnd");
    else if (key == "CapAmb") s.cap_amb = hex("CapAmb");
    else if (key == "NoNewPrivs") s.no_new_privs = dec("NoNewPrivs") != 0;
    else if (key == "Seccomp") s.seccomp = int(dec("Seccomp"));
  });
  if (!seen_pid || !seen_uid || !seen_gid) throw parse_error(origin, "no Pid, Uid or Gid line");
  return s;
}

}  // namespace ckpt::proc
