// `ckpt check [--all] [--feature NAME]...`: runs the probes and reports.
#include <chrono>
#include <cstdio>

#include "check/isolate.h"
#include "check/probe.h"
#include "check/tree_check.h"
#include "ckpt/error.h"
#include "ckpt/log.h"
#include "commands.h"
#include "util/caps.h"

namespace ckpt {
namespace check {
namespace {

// Generous: a healthy probe takes a few milliseconds.
constexpr Millis kProbeTimeout{3000};

Outcome run_probe(const Probe& p) {
  auto start = std::chrono::steady_clock::now();
  Outcome out = run_isolated(p.body, kProbeTimeout);
  auto ms = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count();
  if (out.ok) {
    LOG_DEBUG("%s: ok in %lld ms", p.name, static_cast<long long>(ms));
    if (!out.message.empty()) LOG_INFO("%s: %s", p.name, out.message.c_str());
  } else {
    LOG_DEBUG("%s: missing after %lld ms: %s", p.name, static_cast<long long>(ms), out.message.c_str());
  }
  return out;
}

void print_missing(const Probe& p, const Outcome& out) {
  printf("%s: missing: %s; %s%s\n", p.name, out.message.c_str(), p.breaks,
         p.need == Need::Optional ? " (optional)" : "");
}

// The capabilities dump and restore need that ckpt lacks, on one line:
// "capabilities: missing: CAP_NET_ADMIN (to repair ...), ...".
bool check_capabilities(bool all) {
  std::vector<caps::Need> missing = caps::missing(caps::dump_restore_needs());
  if (missing.empty()) {
    if (all) printf("capabilities: ok\n");
    return true;
  }
  std::string list;
  bool required = false;
  for (const caps::Need& n : missing) {
    list += (list.empty() ? "" : ", ") + caps::name(n.cap) + " (" + n.what + (n.required ? ")" : "; optional)");
    required |= n.required;
  }
  printf("capabilities: missing: %s\n", list.c_str());
  return !required;
}

// Plain `check` lists only failures; `--all` lists every probe.
int check_probes(bool all) {
  bool required_ok = check_capabilities(all);
  for (const Probe& p : all_probes()) {
    if (!all && p.need == Need::Optional) continue;
    Outcome out = run_probe(p);
    if (out.ok) {
      if (all) printf("%s: ok\n", p.name);
    } else {
      print_missing(p, out);
      if (p.need == Need::Required) required_ok = false;
    }
    fflush(stdout);
  }
  if (!required_ok) return 1;
  printf("Looks good.\n");
  return 0;
}

void list_probes() {
  for (const Probe& p : all_probes())
    printf("%-24s %-9s %s\n", p.name, p.need == Need::Required ? "required" : "optional",
           p.description);
}

int check_features(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (name == "list") {
      list_probes();
      return 0;
    }
  }
  std::vector<const Probe*> selected;
  for (const std::string& name : names) {
    const Probe* p = find_probe(name);
    if (!p) throw Error("unknown feature '" + name + "' (`ckpt check --feature list` names them)");
    selected.push_back(p);
  }
  bool all_ok = true;
  for (const Probe* p : selected) {
    Outcome out = run_probe(*p);
    if (out.ok) {
      printf("%s: ok\n", p->name);
    } else {
      printf("%s: missing: %s\n", p->name, out.message.c_str());
      all_ok = false;
    }
    fflush(stdout);
  }
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace check

int run_check(const cli::Options& opts) {
  if (opts.tree_pid > 0) {
    if (opts.check_all || !opts.features.empty()) throw Error("-t cannot be used with --all or --feature");
    return check::check_tree(opts);
  }
  // The dump options are check -t's: the parser refuses them on the command
  // line without -t; from a config file they are there for dump.
  if (opts.check_all && !opts.features.empty())
    throw Error("--all and --feature cannot be used together");
  check::become_reaper();
  if (!opts.features.empty()) return check::check_features(opts.features);
  return check::check_probes(opts.check_all);
}

}  // namespace ckpt
