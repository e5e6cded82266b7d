// The dump's pre-flight: every reason a tree cannot be dumped with the
// options given, found from /proc and the kernel's socket diagnostics alone
// (no ptrace, no parasite), so that it runs the same on a frozen tree
// (dump, before anything is read or written) and on a running one
// (`ckpt check -t PID`, which never stops it).
//
// Each blocker names the process, the fd or memory area, what it is, why,
// and, where one exists, the option or action that resolves it
// (Blocker::remedy).
#pragma once

#include <string>
#include <vector>

#include "cli/options.h"
#include "dump/tree_view.h"
#include "files/files.h"

namespace ckpt::dump {

// Every blocker of `tree` with `opts`: the tree's shape (zombie root,
// sessions, namespaces), each process's fds (FileTable::preflight: the
// modules' blocker()), deleted files over --ghost-limit, file locks,
// threads in cgroups of their own, memory areas of kinds not supported
// yet, a deleted executable, and capabilities ckpt lacks for the tree.
// `files` carries the fd options (--shell-job, --ext-unix-sk, --external,
// ...).
std::vector<files::Blocker> preflight(const TreeView& tree, const files::FileTable& files,
                                      const cli::Options& opts);

// The dump's refusal: throws Error listing every blocker (one on one line,
// several as "for N reasons:" and one per line), nothing if there is none.
void refuse(const std::vector<files::Blocker>& blockers, pid_t root);

// `check -t`'s line for a blocker: "pid 812 fd 9: unix socket connected to
// a peer outside the tree (...): use --ext-unix-sk".
std::string check_line(const files::Blocker& b);

// The remedy at the end of a blocker's reason, as the modules word it
// ("...: use --ext-unix-sk", "... (use --shell-job)", "...: dump with
// --external ..."), or "" if it names none.
std::string remedy_of(const std::string& reason);

// The options of a dump, for the file table (the same for check -t).
files::DumpFdOptions fd_options(const cli::Options& opts);

}  // namespace ckpt::dump
