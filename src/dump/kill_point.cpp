#include "dump/kill_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::dump {

namespace {

KillPoint g_point = KillPoint::None;

struct Named {
  const char* name;
  KillPoint point;
};
constexpr Named kPoints[] = {
    {"after-freeze", KillPoint::AfterFreeze},   {"after-infect", KillPoint::AfterInfect},
    {"after-pages", KillPoint::AfterPages},     {"before-commit", KillPoint::BeforeCommit},
    {"in-commit", KillPoint::InCommit},
    {"after-commit", KillPoint::AfterCommit},
};

const char* name_of(KillPoint p) {
  for (const Named& n : kPoints)
    if (n.point == p) return n.name;
  return "none";
}

}  // namespace

void read_kill_point() {
  const char* v = getenv("CKPT_DUMP_TEST_KILL");
  if (!v || !*v) return;
  for (const Named& n : kPoints)
    if (strcmp(v, n.name) == 0) {
      g_point = n.point;
      return;
    }
  throw Error(std::string("CKPT_DUMP_TEST_KILL=") + v +
              " names no kill point (after-freeze, after-infect, after-pages, before-commit, in-commit, after-commit)");
}

void kill_point(KillPoint point) {
  if (point != g_point) return;
  LOG_INFO("Killing ckpt itself at %s (CKPT_DUMP_TEST_KILL)", name_of(point));
  kill(getpid(), SIGKILL);
  pause();
}

}  // namespace ckpt::dump
