#include "report/report.h"

#include <cstdio>

#include "image/image.h"
#include "report/json.h"

namespace ckpt::report {

std::string blocker_json(const Blocker& b) {
  JsonObject o;
  o.add("pid", b.pid);
  if (b.fd >= 0) o.add("fd", b.fd);
  else o.add_raw("fd", "null");
  if (!b.area.empty()) o.add("area", b.area);
  if (!b.kind.empty()) o.add("kind", b.kind);
  o.add("reason", b.reason);
  if (!b.remedy.empty()) o.add("remedy", b.remedy);
  o.add("text", b.text());
  return o.str();
}

const char* class_name(FailureClass c) {
  switch (c) {
    case FailureClass::Usage: return "usage";
    case FailureClass::Blocked: return "blocked";
    case FailureClass::Images: return "images";
    case FailureClass::Fault: return "fault";
  }
  return "fault";
}

FailureClass classify(const std::exception& e) {
  if (dynamic_cast<const UsageFailure*>(&e)) return FailureClass::Usage;
  if (dynamic_cast<const Blocked*>(&e)) return FailureClass::Blocked;
  if (dynamic_cast<const image::BadImages*>(&e)) return FailureClass::Images;
  return FailureClass::Fault;
}

std::string to_json(const Report& r) {
  JsonObject o;
  o.add("command", r.command);
  o.add("status", r.ok ? "ok" : "error");
  if (!r.ok) {
    o.add("class", class_name(r.failure));
    o.add("error", r.error);
  }
  std::vector<std::string> blockers;
  for (const Blocker& b : r.blockers) blockers.push_back(blocker_json(b));
  o.add_raw("blockers", json_array(blockers));
  o.add_raw("stats", r.stats_json.empty() ? "{}" : r.stats_json);
  return o.str();
}

Report failed(const std::string& command, const std::exception& e, std::string stats_json) {
  Report r;
  r.command = command;
  r.ok = false;
  r.failure = classify(e);
  r.error = e.what();
  if (auto* b = dynamic_cast<const Blocked*>(&e)) r.blockers = b->blockers();
  r.stats_json = std::move(stats_json);
  return r;
}

void print(const Report& r) {
  fflush(stdout);
  std::string line = to_json(r) + "\n";
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

}  // namespace ckpt::report
