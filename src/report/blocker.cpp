#include "report/blocker.h"

#include "image/image.h"

namespace ckpt::report {

std::string Blocker::text() const {
  if (fd >= 0) return format("fd %d of pid %d: %s", fd, pid, reason.c_str());
  if (!area.empty()) return format("%s of pid %d: %s", area.c_str(), pid, reason.c_str());
  return reason;
}

void BlockerList::check(pid_t pid, const std::string& kind, const std::function<void()>& body) {
  try {
    body();
  } catch (const image::BadImages&) {
    throw;
  } catch (const Error& e) {
    add(pid, kind, e.what());
  }
}

}  // namespace ckpt::report
