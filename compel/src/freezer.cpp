#include "freezer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "ckpt/unique_fd.h"
#include "proc.h"

namespace compel::detail {

Freezer::Freezer(const std::string& cgroup_dir, Deadline deadline) : dir_(cgroup_dir) {
  if (::access((dir_ + "/cgroup.freeze").c_str(), F_OK) == 0)
    v2_ = true;
  else if (::access((dir_ + "/freezer.state").c_str(), F_OK) != 0)
    throw Error("cannot freeze cgroup " + dir_ + ": neither cgroup.freeze (v2) nor freezer.state (v1) is there");
  write_state(true);
  frozen_ = true;
  Backoff backoff;
  while (!is_frozen()) {
    if (deadline.passed()) {
      thaw();
      throw Error("cannot freeze cgroup " + dir_ + ": it did not become frozen in time");
    }
    backoff.pause();
  }
}

Freezer::~Freezer() {
  try {
    thaw();
  } catch (...) {
  }
}

void Freezer::thaw() {
  if (!frozen_) return;
  frozen_ = false;
  write_state(false);
}

void Freezer::write_state(bool frozen) const {
  std::string file = dir_ + (v2_ ? "/cgroup.freeze" : "/freezer.state");
  const char* value = v2_ ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
  ckpt::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), value, std::strlen(value)) < 0)
    throw Error("cannot " + std::string(frozen ? "freeze" : "thaw") + " cgroup " + dir_ + ": writing " + file +
                " failed: " + errno_text(errno));
}

bool Freezer::is_frozen() const {
  if (v2_) {
    auto events = proc::read_file(dir_ + "/cgroup.events");
    return events && events->find("frozen 1") != std::string::npos;
  }
  auto state = proc::read_file(dir_ + "/freezer.state");
  return state && state->rfind("FROZEN", 0) == 0;
}

}  // namespace compel::detail
