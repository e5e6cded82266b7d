#include "ckpt/kill_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt {

int parse_kill_point(const char* variable, const char* value, std::initializer_list<const char*> names) {
  std::string all;
  int index = 0;
  for (const char* name : names) {
    ++index;
    if (std::strcmp(value, name) == 0) return index;
    all += (all.empty() ? "" : ", ") + std::string(name);
  }
  throw Error(std::string(variable) + "=" + value + " names no kill point (" + all + ")");
}

void kill_self_at(const char* variable, const char* name) {
  LOG_INFO("Killing ckpt itself at %s (%s)", name, variable);
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

}  // namespace ckpt
