// Knobs of a restore for measurements and tests, read from the environment
// once, at the start of `ckpt restore`, and passed down: no module reads the
// environment itself.
//
//   CKPT_RESTORE_DIRECT=0|1     read the pages image buffered / with O_DIRECT
//                               (default: O_DIRECT when it is mostly not cached)
//   CKPT_RESTORE_IO_WORKERS=N   page readers in the blob (default: 2 on SMP)
//   CKPT_RESTORE_PREFAULT=0     do not prefault memory before reading pages
//   CKPT_RESTORE_UFFD=0         do not fill anonymous memory with UFFDIO_COPY
//   CKPT_RESTORE_AIO=0|1        force native AIO off / on
//   CKPT_RESTORE_VDSO_PROXY=1   tests only: reach this kernel's vDSO through
//                               jumps at the dumped one, as if it differed
//   CKPT_RESTORE_TEST_FAIL=PID  tests only: make that task fail once its
//                               children exist
//   CKPT_RESTORE_TEST_KILL=POINT  tests only: ckpt SIGKILLs itself at that
//                               point of the restore (kill_point.h)
#pragma once

#include <optional>

#include "restore/kill_point.h"

namespace ckpt::restore {

struct Tuning {
  std::optional<bool> direct;
  std::optional<int> io_workers;
  bool prefault = true;
  bool uffd = true;
  std::optional<bool> aio;
  int fail_pid = 0;
  bool vdso_proxy = false;
  KillPoint kill = KillPoint::None;

  static Tuning from_environment();
};

}  // namespace ckpt::restore
