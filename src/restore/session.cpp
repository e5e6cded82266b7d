#include "restore/session.h"

#include <signal.h>
#include <unistd.h>

#include "ckpt/error.h"

namespace ckpt::restore {

SessionPlan plan_session(const ProcessImage& p, bool shell_job) {
  int pid = p.pid();
  int sid = int(p.pstree.sid()), pgid = int(p.pstree.pgid());
  if (sid == pid) return {SessionAction::NewSession, 0};
  if (shell_job) return {SessionAction::Keep, 0};
  int our_sid = getsid(0), our_pgid = getpgrp();
  if (sid != our_sid)
    throw Error(format("cannot restore pid %d: it was in session %d, which is not ckpt's (%d) and is not restored; "
                       "dump and restore it with --shell-job to run it in ckpt's session",
                       pid, sid, our_sid));
  if (pgid == pid) return {SessionAction::OwnGroup, 0};
  if (pgid == our_pgid) return {SessionAction::Keep, 0};
  if (kill(-pgid, 0) < 0 && errno == ESRCH)
    throw Error(format("cannot restore pid %d: its process group %d no longer exists; restore it with --shell-job "
                       "to run it in ckpt's process group",
                       pid, pgid));
  return {SessionAction::JoinGroup, pgid};
}

}  // namespace ckpt::restore
