#include "restore/tuning.h"

#include <cstdlib>

namespace ckpt::restore {
namespace {

std::optional<int> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::atoi(v);
}

}  // namespace

Tuning Tuning::from_environment() {
  Tuning t;
  if (auto v = env_int("CKPT_RESTORE_DIRECT")) t.direct = *v != 0;
  t.io_workers = env_int("CKPT_RESTORE_IO_WORKERS");
  if (auto v = env_int("CKPT_RESTORE_PREFAULT")) t.prefault = *v != 0;
  if (auto v = env_int("CKPT_RESTORE_UFFD")) t.uffd = *v != 0;
  if (auto v = env_int("CKPT_RESTORE_AIO")) t.aio = *v != 0;
  t.fail_pid = env_int("CKPT_RESTORE_TEST_FAIL").value_or(0);
  t.vdso_proxy = env_int("CKPT_RESTORE_VDSO_PROXY").value_or(0) != 0;
  if (const char* v = std::getenv("CKPT_RESTORE_TEST_KILL"); v && *v) t.kill = parse_kill_point(v);
  return t;
}

}  // namespace ckpt::restore
