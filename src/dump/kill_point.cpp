#include "dump/kill_point.h"

#include <cstdlib>

#include "ckpt/kill_point.h"

namespace ckpt::dump {

namespace {

constexpr const char* kVariable = "CKPT_DUMP_TEST_KILL";
// In the order of KillPoint, after None.
constexpr std::initializer_list<const char*> kNames = {"after-freeze", "after-infect", "after-pages", "before-commit", "in-commit", "after-commit", "in-kill"};

KillPoint g_point = KillPoint::None;

}  // namespace

void read_kill_point() {
  const char* v = getenv(kVariable);
  if (v && *v) g_point = KillPoint(parse_kill_point(kVariable, v, kNames));
}

void kill_point(KillPoint point) {
  if (point != KillPoint::None && point == g_point) kill_self_at(kVariable, kNames.begin()[int(point) - 1]);
}

}  // namespace ckpt::dump
