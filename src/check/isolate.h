// Runs each probe body in its own forked process so that a probe which
// crashes, hangs or changes process-wide state (namespaces, clear_refs,
// PR_SET_MM) cannot affect ckpt or the probes after it.
#pragma once

#include <string>

#include "check/child.h"
#include "check/probe.h"

namespace ckpt::check {

struct Outcome {
  bool ok = false;
  std::string message;  // the detail when ok, the reason when missing
};

// Makes this process a child subreaper so that helpers orphaned by a killed
// probe come back to it and can be reaped.
void become_reaper();

// Forks, runs `body` in the child and collects its verdict; a child that
// outlives `timeout` is killed and reported as hung.  Leftover descendants
// are reaped before returning.
Outcome run_isolated(ProbeBody body, Millis timeout);

}  // namespace ckpt::check
