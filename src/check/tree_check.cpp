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

namespace ckpt::check {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c < 0x20) out += format("\\u%04x", c);
    else out += char(c);
  }
  return out + "\"";
}

void print_json(pid_t root, const std::vector<files::Blocker>& blockers) {
  std::string s = format("{\"command\":\"check\",\"pid\":%d,\"status\":%s,\"blockers\":[", root,
                         blockers.empty() ? "\"ok\"" : "\"blocked\"");
  for (size_t i = 0; i < blockers.size(); i++) {
    const files::Blocker& b = blockers[i];
    s += format("%s{\"pid\":%d,", i ? "," : "", b.pid);
    if (b.fd >= 0) s += format("\"fd\":%d,", b.fd);
    if (!b.area.empty()) s += "\"area\":" + json_string(b.area) + ",";
    s += "\"kind\":" + json_string(b.kind) + ",\"reason\":" + json_string(b.reason) +
         ",\"remedy\":" + json_string(b.remedy) + ",\"line\":" + json_string(dump::check_line(b)) + "}";
  }
  printf("%s]}\n", s.c_str());
}

}  // namespace

int check_tree(const cli::Options& opts) {
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
  if (opts.json) {
    print_json(root, blockers);
    return blockers.empty() ? 0 : 1;
  }
  for (const files::Blocker& b : blockers) printf("%s\n", dump::check_line(b).c_str());
  if (blockers.empty()) {
    size_t n = tree.processes.size();
    printf("The tree of pid %d (%zu process%s) can be dumped with these options.\n", root, n, n == 1 ? "" : "es");
    return 0;
  }
  printf("The tree of pid %d cannot be dumped with these options: %zu blocker%s.\n", root, blockers.size(),
         blockers.size() == 1 ? "" : "s");
  return 1;
}

}  // namespace ckpt::check
