#include "restore/kill_point.h"

#include "ckpt/kill_point.h"

namespace ckpt::restore {

namespace {

constexpr const char* kVariable = "CKPT_RESTORE_TEST_KILL";
// In the order of KillPoint, after None.
constexpr std::initializer_list<const char*> kNames = {"after-fork", "after-go", "first-trap",
                                                        "all-held", "before-release", "in-release"};

}  // namespace

KillPoint parse_kill_point(const char* name) { return KillPoint(ckpt::parse_kill_point(kVariable, name, kNames)); }

void kill_point(KillPoint asked, KillPoint here) {
  if (asked != KillPoint::None && asked == here) kill_self_at(kVariable, kNames.begin()[int(here) - 1]);
}

}  // namespace ckpt::restore
