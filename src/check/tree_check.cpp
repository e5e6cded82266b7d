#include "check/tree_check.h"

#include <netinet/in.h>
#include <sys/resource.h>

#include <cstdio>
#include <optional>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "dump/preflight.h"
#include "dump/tree_view.h"
#include "files/inet_diag.h"
#include "report/report.h"

namespace ckpt::check {

namespace {

int check_live_tree(const cli::Options& opts) {
  pid_t root = opts.tree_pid;
  dump::TreeView tree = dump::read_live_tree(root);
  LOG_INFO("Checking the tree of pid %d (%zu processes) without stopping it", root, tree.processes.size());
  // As the dump does: one listing of the kernel's TCP sockets for every
  // socket of the tree.
  std::optional<files::diag::InetIndex> tcp_sockets;
  try {
    tcp_sockets.emplace(IPPROTO_TCP);
  } catch (const Error& e) {
    LOG_DEBUG("no listing of TCP sockets: %s", e.what());
  }
  files::TreeTasks tasks = dump::tasks_of(tree);
  files::DumpFdOptions fd_opts = dump::fd_options(opts);
  fd_opts.tcp_sockets = tcp_sockets ? &*tcp_sockets : nullptr;
  fd_opts.tree = &tasks;
  files::FileTable files(fd_opts);
  std::vector<files::Blocker> blockers = dump::preflight(tree, files, opts);
  std::string verdict = format("The tree of pid %d cannot be dumped with these options: %zu blocker%s.", root,
                               blockers.size(), blockers.size() == 1 ? "" : "s");
  // --json: the report holds every blocker (class "blocked"), stdout
  // nothing else.
  if (opts.json && !blockers.empty())
    throw report::Blocked(format("the tree of pid %d cannot be dumped with these options: %zu blocker%s", root,
                                 blockers.size(), blockers.size() == 1 ? "" : "s"),
                          blockers);
  if (opts.json) return 0;
  for (const files::Blocker& b : blockers) printf("%s\n", dump::check_line(b).c_str());
  if (blockers.empty()) {
    size_t n = tree.processes.size();
    printf("The tree of pid %d (%zu process%s) can be dumped with these options.\n", root, n, n == 1 ? "" : "es");
    return 0;
  }
  printf("%s\n", verdict.c_str());
  return 1;
}

}  // namespace

int check_tree(const cli::Options& opts) {
  return report::run_reported("check", opts.json, [&](report::Outcome&) { return check_live_tree(opts); });
}

}  // namespace ckpt::check
