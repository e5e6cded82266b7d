#include "util/caps.h"

#include <cctype>
#include <memory>

namespace ckpt::caps {

bool has(cap_value_t cap) {
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> set(cap_get_proc(), cap_free);
  if (!set) return false;
  cap_flag_value_t value = CAP_CLEAR;
  if (cap_get_flag(set.get(), cap, CAP_EFFECTIVE, &value) != 0) return false;
  return value == CAP_SET;
}

std::string name(cap_value_t cap) {
  std::unique_ptr<char, int (*)(void*)> text(cap_to_name(cap), cap_free);
  std::string s = text ? text.get() : "capability " + std::to_string(cap);
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string needs(cap_value_t cap, const std::string& what) { return "needs " + name(cap) + " " + what; }

const std::vector<Need>& dump_restore_needs() {
  static const std::vector<Need> kNeeds = {
      {CAP_SYS_PTRACE, "to seize and read processes of other users", true},
      {CAP_CHECKPOINT_RESTORE, "to restore processes with their pids (clone3 set_tid) and memory layout", true},
      {CAP_SYS_ADMIN, "to read seccomp filters and restore credentials", true},
      {CAP_NET_ADMIN, "to repair TCP connections (--tcp-established) and lock the network (nftables)", false},
  };
  return kNeeds;
}

std::vector<Need> missing(const std::vector<Need>& needs) {
  std::vector<Need> out;
  for (const Need& n : needs)
    if (!has(n.cap)) out.push_back(n);
  return out;
}

}  // namespace ckpt::caps
