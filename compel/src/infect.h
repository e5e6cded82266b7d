// The insides of an Infection: the parasite area in one process, the
// threads it has borrowed, and the command runner.
#pragma once

#include <memory>
#include <vector>

#include "ckpt/parasite_proto.h"
#include "ckpt/unique_fd.h"
#include "remote_syscall.h"
#include "tree.h"

namespace compel {

struct Infection::Impl {
  Impl(FrozenTree::Impl& tree, pid_t pid, pid_t main_tid);

  FrozenTree::Impl* tree;  // null once cured or abandoned
  pid_t pid;
  // The thread that runs remote syscalls and the process-wide commands: the
  // main thread, or the first live one if the main thread has exited.  Its
  // tid also names the process's memory (process_vm_*, /proc/PID/task/TID).
  pid_t main_tid;
  std::vector<pid_t> borrowed;  // threads whose state compel changed

  detail::SyscallSite outside_site{};  // usable while no parasite is mapped
  uint64_t area = 0;                   // the parasite area, 0 if not mapped
  uint64_t area_size = 0;
  uint64_t args_addr = 0;
  uint64_t stack_top = 0;
  std::unique_ptr<parasite_args> args;  // host copy of the args area

  ckpt::UniqueFd pidfd;
  ckpt::UniqueFd pipe;                  // host's copy of the parasite pipe's read end
  int remote_pipe[2] = {-1, -1};

  // Maps the parasite into the process.
  void start();
  void refuse_if_mdwe(detail::ThreadRecord& main);
  // Saves a thread's state and blocks its signals, once; it gets both
  // back at cure.
  detail::ThreadRecord& borrow(pid_t tid);
  detail::ThreadRecord& main_thread() { return borrow(main_tid); }
  void suspend_seccomp(detail::ThreadRecord& t);
  long syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
  // Runs one syscall in thread tid (borrowing it first) and returns its raw
  // result (-errno on failure).  Memory arguments point into scratch().
  long thread_syscall(pid_t tid, long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                      uint64_t a5 = 0, uint64_t a6 = 0);
  // A buffer of kScratchSize bytes in the target for the memory arguments
  // of thread_syscall (read and written with detail::read_mem/write_mem
  // through main_tid).  Valid while the parasite is mapped and runs no
  // command.
  static constexpr size_t kScratchSize = 4096;
  uint64_t scratch() const;

  // Writes the command's header and in_len bytes of input, points tid at
  // the parasite entry, resumes it (returning at once if !wait) and reads
  // back out_len bytes of results.  Throws if the command reports an error.
  parasite_args& run(pid_t tid, uint32_t cmd, size_t in_len, size_t out_len);
  void start_command(detail::ThreadRecord& t, uint32_t cmd, size_t in_len);
  parasite_args& finish_command(detail::ThreadRecord& t, size_t out_len);
  uint64_t entry_trap_ip() const { return area + PARASITE_ENTRY_TRAP_OFFSET + 1; }

  // A pidfd naming the process through main_tid (pidfd_getfd through the
  // process's pidfd fails once the main thread has exited).
  int get_pidfd();
  void open_pipe();
  uint64_t splice_batch(uint32_t nr, int out_fd);

  void cure();               // throws the first failure, after undoing all it can
  void cure_quietly() noexcept;
  void abandon() noexcept;   // the tree was killed: nothing to undo
  void give_back(detail::ThreadRecord& t);
  void park_in_interrupt_stop(detail::ThreadRecord& t);
  void stop_if_running(detail::ThreadRecord& t);
  std::string who() const { return "pid " + std::to_string(pid); }
};

}  // namespace compel
