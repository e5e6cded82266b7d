// `ckpt check`: one probe per kernel facility the tool relies on.  A probe
// performs the operation for real (seizes a child, creates a PID, scans a
// pagemap ...) rather than reading a config, because a facility can be
// compiled in and still refused (capabilities, sysctls, seccomp, LSMs).
#pragma once

#include <string>
#include <vector>

namespace ckpt::check {

enum class Need { Required, Optional };

// A probe body returns an optional detail line (logged at info level) when
// the facility works, and throws ckpt::Error with the reason when it does
// not.  Bodies run in a disposable child process (see isolate.h), so they may
// unshare namespaces, write clear_refs, call PR_SET_MM_MAP and so on without
// touching ckpt itself.
using ProbeBody = std::string (*)();

struct Probe {
  const char* name;         // kebab-case, as given to --feature
  Need need;
  const char* description;  // what the probe does
  const char* breaks;       // what does not work when it is missing
  ProbeBody body;
};

// Every probe, in the order they are run and listed.
const std::vector<Probe>& all_probes();
// nullptr when no probe has that name.
const Probe* find_probe(const std::string& name);

// Probe bodies, grouped by area (probes_*.cpp).
std::string probe_ptrace_seize();
std::string probe_ptrace_xstate();
std::string probe_ptrace_rseq();
std::string probe_ptrace_suspend_seccomp();
std::string probe_proc_mount();
std::string probe_map_files();
std::string probe_process_vm_readv();
std::string probe_pidfd_getfd();
std::string probe_kcmp();
std::string probe_clone3_set_tid();
std::string probe_ns_last_pid();
std::string probe_memfd_create();
std::string probe_pagemap_scan();
std::string probe_soft_dirty();
std::string probe_aio();
std::string probe_prctl_mm_map();
std::string probe_uffd();
std::string probe_uffd_wp_async();
std::string probe_vdso();
std::string probe_tcp_repair();
std::string probe_nftables();

}  // namespace ckpt::check
