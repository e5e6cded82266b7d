// The table of probes: a new kernel facility is one function in the
// probes_*.cpp file of its area and one line here.
#include "check/probe.h"

namespace ckpt::check {

const std::vector<Probe>& all_probes() {
  using enum Need;
  static const std::vector<Probe> probes = {
      {"proc-mount", Required, "/proc is mounted for the PID namespace ckpt runs in",
       "dump and restore would read the /proc entries of other processes than they mean",
       probe_proc_mount},
      {"ptrace-seize", Required,
       "PTRACE_SEIZE and PTRACE_INTERRUPT stop a child, waitpid sees the event stop, detach",
       "dump cannot freeze the process tree", probe_ptrace_seize},
      {"ptrace-xstate", Required,
       "PTRACE_GETREGSET NT_X86_XSTATE reads the extended FPU state of a seized child",
       "dump cannot save the FPU/SSE/AVX registers", probe_ptrace_xstate},
      {"map-files", Required,
       "/proc/PID/map_files entries of a child can be read and opened",
       "dump cannot identify or reopen the files behind memory mappings (e.g. deleted ones)",
       probe_map_files},
      {"process-vm-readv", Required, "process_vm_readv reads a child's memory",
       "dump cannot read pieces of a target's memory from outside it", probe_process_vm_readv},
      {"pidfd-getfd", Required, "pidfd_open and pidfd_getfd take a file descriptor out of a child",
       "dump cannot collect a target's file descriptors from outside it", probe_pidfd_getfd},
      {"kcmp", Required, "kcmp(KCMP_FILE) tells whether two descriptors share one open file",
       "dump cannot detect shared open files, so restored processes would not share them",
       probe_kcmp},
      {"memfd-create", Required, "memfd_create makes an anonymous file that can be written and read",
       "restore cannot recreate memfd files and shared anonymous memory", probe_memfd_create},
      {"pagemap-scan", Required,
       "the PAGEMAP_SCAN ioctl on /proc/PID/pagemap lists exactly the present pages",
       "dump cannot find which pages of a target to save", probe_pagemap_scan},
      {"aio", Required, "native AIO (io_setup/io_submit/io_getevents/io_destroy) reads a file",
       "restore cannot read the pages image", probe_aio},
      {"clone3-set-tid", Required, "clone3 with set_tid creates a child with a chosen free PID",
       "restore cannot give processes and threads their original PIDs", probe_clone3_set_tid},
      {"ns-last-pid", Required,
       "/proc/sys/kernel/ns_last_pid can be read and written and steers the next PID",
       "restore cannot find free PIDs nor put back a PID namespace's PID counter",
       probe_ns_last_pid},
      {"prctl-mm-map", Required, "prctl(PR_SET_MM, PR_SET_MM_MAP) sets a process's memory layout fields",
       "restore cannot put back the brk, argv/env areas and auxiliary vector", probe_prctl_mm_map},
      {"vdso", Required,
       "[vdso] is mapped, is a valid ELF whose dynamic symbols include __vdso_clock_gettime; "
       "the [vvar]/[vvar_vclock]/[vdso] layout is reported",
       "restore cannot move the vDSO into place; restored processes could crash in clock_gettime",
       probe_vdso},
      {"tcp-repair", Required,
       "a connected loopback TCP socket enters TCP_REPAIR and its sequence numbers are read",
       "dump and restore with --tcp-established cannot save or recreate TCP connections",
       probe_tcp_repair},
      {"nftables", Required,
       "with CAP_NET_ADMIN, in a new network namespace, the network lock of an IPv4 and an IPv6 "
       "connection is taken (an nftables inet table: tuple sets, input and output chains) and released",
       "dump with --tcp-established cannot lock the network while connections are saved "
       "(use --network-lock skip if the caller locks it)",
       probe_nftables},
      {"ptrace-rseq", Optional,
       "PTRACE_GET_RSEQ_CONFIGURATION reads a seized child's rseq registration",
       "a task's rseq registration cannot be saved; restored glibc threads would read stale "
       "CPU numbers",
       probe_ptrace_rseq},
      {"ptrace-suspend-seccomp", Optional,
       "PTRACE_O_SUSPEND_SECCOMP can be set on a seized child",
       "tasks running under a seccomp filter cannot be dumped or restored (the parasite's and "
       "restorer's system calls would be filtered)",
       probe_ptrace_suspend_seccomp},
      {"uffd", Optional,
       "userfaultfd (system call or /dev/userfaultfd) registers memory and fills it with UFFDIO_COPY",
       "no lazy restore (pages served on demand)", probe_uffd},
      {"uffd-wp-async", Optional,
       "userfaultfd asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC) tracks written pages "
       "through PAGEMAP_SCAN",
       "no incremental dumps based on write tracking", probe_uffd_wp_async},
      {"soft-dirty", Optional, "bit 55 of /proc/self/pagemap is set on a write after clear_refs 4",
       "no incremental (pre-dump) dumps based on soft-dirty bits; ckpt finds present pages with "
       "PAGEMAP_SCAN instead",
       probe_soft_dirty},
  };
  return probes;
}

const Probe* find_probe(const std::string& name) {
  for (const Probe& p : all_probes())
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace ckpt::check
