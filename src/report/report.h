// --json: one JSON object on stdout when dump, restore or `check -t` ends.
//
//   {"command":"dump","status":"ok","stats":{...}}
//   {"command":"dump","status":"error","class":"blocked","error":"cannot dump ...",
//    "blockers":[{"pid":12,"fd":5,"kind":"io_uring","reason":"...","text":"fd 5 of pid 12: ..."}],
//    "stats":{}}
//
// The class of a failure is one of (docs/user-guide.md):
//   usage    the command line is wrong or lacks what the command needs
//   blocked  the dump's pre-flight or the restore's checks refused: the
//            tree or the machine holds what stops it (every blocker listed)
//   images   the images are corrupted, truncated or of another set
//   fault    anything else: a system call failed, a task died, a timeout
#pragma once

#include <sys/types.h>

#include <exception>
#include <string>
#include <vector>

#include "ckpt/error.h"
#include "report/blocker.h"

namespace ckpt::report {

// {"pid","fd" (null if none),"area"?,"kind"?,"reason","remedy"?,"text"}
std::string blocker_json(const Blocker& b);

// A command refused by its pre-flight, with every blocker found.
class Blocked : public Error {
 public:
  Blocked(const std::string& what, std::vector<Blocker> blockers) : Error(what), blockers_(std::move(blockers)) {}
  const std::vector<Blocker>& blockers() const { return blockers_; }

 private:
  std::vector<Blocker> blockers_;
};

// The command line lacks what the command needs (dump without -t).
class UsageFailure : public Error {
 public:
  using Error::Error;
};

enum class FailureClass { Usage, Blocked, Images, Fault };
const char* class_name(FailureClass c);
FailureClass classify(const std::exception& e);

struct Report {
  std::string command;             // "dump", "restore", "check"
  bool ok = true;
  FailureClass failure = FailureClass::Fault;
  std::string error;               // the message ckpt prints on stderr
  std::vector<Blocker> blockers;
  std::string stats_json = "{}";   // a JSON object (stats/stats.proto's entry), {} if none
};
std::string to_json(const Report& r);
// The report of a command that ended with `e`.
Report failed(const std::string& command, const std::exception& e, std::string stats_json = "{}");
// The report, one line on stdout, flushed.
void print(const Report& r);

// What a running command hands to its report.
struct Outcome {
  std::string stats_json = "{}";
};

// Runs body(Outcome&); with `json`, prints the report when it returns (ok)
// or throws (the failure; the exception goes on to the caller, which
// prints the message on stderr and exits 1).
template <class Body>
int run_reported(const std::string& command, bool json, Body&& body) {
  Outcome out;
  try {
    int rc = body(out);
    if (json) {
      Report r;
      r.command = command;
      r.stats_json = out.stats_json;
      print(r);
    }
    return rc;
  } catch (const std::exception& e) {
    if (json) print(failed(command, e, out.stats_json));
    throw;
  }
}

}  // namespace ckpt::report
