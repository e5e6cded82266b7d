#include "restore/kill_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::restore {

namespace {

struct Named {
  const char* name;
  KillPoint point;
};
constexpr Named kPoints[] = {
    {"after-fork", KillPoint::AfterFork},         {"after-go", KillPoint::AfterGo},
    {"first-trap", KillPoint::FirstTrap},         {"all-held", KillPoint::AllHeld},
    {"before-release", KillPoint::BeforeRelease}, {"in-release", KillPoint::InRelease},
};

const char* name_of(KillPoint p) {
  for (const Named& n : kPoints)
    if (n.point == p) return n.name;
  return "none";
}

}  // namespace

KillPoint parse_kill_point(const char* name) {
  std::string all;
  for (const Named& n : kPoints) {
    if (strcmp(name, n.name) == 0) return n.point;
    all += (all.empty() ? "" : ", ") + std::string(n.name);
  }
  throw Error(std::string("CKPT_RESTORE_TEST_KILL=") + name + " names no kill point (" + all + ")");
}

void kill_point(KillPoint asked, KillPoint here) {
  if (asked == KillPoint::None || asked != here) return;
  LOG_INFO("Killing ckpt itself at %s (CKPT_RESTORE_TEST_KILL)", name_of(here));
  kill(getpid(), SIGKILL);
  pause();
}

}  // namespace ckpt::restore
