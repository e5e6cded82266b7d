// ckpt's own capabilities, read and named through libcap: an operation
// that needs one ckpt lacks is refused naming it ("needs CAP_NET_ADMIN to
// repair TCP connections") rather than failing later with EPERM.
#pragma once

#include <sys/capability.h>

#include <string>
#include <vector>

namespace ckpt::caps {

// Whether ckpt has `cap` in its effective set.
bool has(cap_value_t cap);

// "CAP_NET_ADMIN" (libcap's cap_to_name, in the kernel's spelling).
std::string name(cap_value_t cap);

// "needs CAP_NET_ADMIN to repair TCP connections".
std::string needs(cap_value_t cap, const std::string& what);

// One capability ckpt may need, and for what.
struct Need {
  cap_value_t cap;
  const char* what;  // "to seize processes of other users"
  bool required;     // false: only some trees need it (TCP connections)
};

// What dump and restore need of ckpt's capabilities, whatever the tree.
const std::vector<Need>& dump_restore_needs();

// The needs of `needs` ckpt lacks, in order.
std::vector<Need> missing(const std::vector<Need>& needs);

}  // namespace ckpt::caps
