// Which session and process group the restored process gets.  A session
// leader gets a new session; with --shell-job the process joins ckpt's
// session and process group as a job; otherwise its session must be ckpt's
// and its group one that exists there, or restore refuses with the reason.
#pragma once

#include "restore/tree_plan.h"
#include "restore/process_image.h"

namespace ckpt::restore {

struct SessionPlan {
  SessionAction action = SessionAction::Keep;
  int pgid = 0;
};

SessionPlan plan_session(const ProcessImage& p, bool shell_job);

}  // namespace ckpt::restore
