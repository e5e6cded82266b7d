// The insides of an Infection: the parasite area in one process, the
// threads it has borrowed and their cure chains, and the control socket
// the parasite's command loop answers on.
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <vector>

#include "ckpt/parasite_proto.h"
#include "ckpt/unique_fd.h"
#include "control.h"
#include "cure.h"
#include "proc.h"
#include "rseq.h"
#include "tree.h"

namespace compel {

struct Infection::Impl {
  Impl(FrozenTree::Impl& tree, pid_t pid, pid_t main_tid);

  FrozenTree::Impl* tree;  // null once cured or abandoned
  pid_t pid;
  // The thread that runs the parasite and the process-wide commands: the
  // main thread, or if it has exited or is not on a stack that can take its
  // cure chain (cure.h), the first live one that is.  Its tid also names
  // the process's memory (process_vm_*, /proc/PID/task/TID).
  pid_t main_tid;
  std::vector<pid_t> borrowed;  // threads whose state compel changed

  std::vector<proc::MapArea> maps;  // as at infection (the tree is frozen)
  detail::CureGadgets gadgets;
  std::map<pid_t, detail::CureChain> chains;  // of each borrowed thread
  // Read while the thread is stopped (ptrace cannot read it from the main
  // thread once it runs the parasite's loop).
  std::map<pid_t, detail::RseqConfig> rseq_configs;

  uint64_t area = 0;  // where the parasite goes (chosen before it is mapped)
  uint64_t area_size = 0;
  // Chains of threads whose own stack cannot take one (cure.h), one slot
  // each, after the scratch page.
  static constexpr size_t kChainSlotSize = 16384;
  static constexpr size_t kParasiteChainCalls = 4;  // chain_calls() of the parasite's thread
  uint64_t chain_slots = 0;
  size_t chain_slots_nr = 0, chain_slots_used = 0;
  bool area_outlives_death = false;  // a chain lives in it: none unmaps it
  bool area_mapped = false;
  uint64_t args_addr = 0;
  uint64_t stack_top = 0;
  std::unique_ptr<parasite_args> args;  // host copy of the args area

  detail::ControlSocket control;
  bool daemon_running = false;  // the main thread is in the parasite's loop
  int remote_socket = -1;       // the parasite's end, in the target
  uint32_t seq = 0;

  ckpt::UniqueFd pidfd;
  ckpt::UniqueFd pipe;          // host's copy of the parasite pipe's read end
  int remote_pipe[2] = {-1, -1};

  // Maps the parasite into the process and starts its command loop.
  void start();
  std::optional<pid_t> pick_parasite_thread(const Process& p) const;
  // A parasite thread without room on its stack: its first chain goes
  // over the top of its stack mapping, whose bytes are kept here and put
  // back once the chain has moved into the area.
  struct Borrowed {
    uint64_t addr = 0;
    std::vector<uint8_t> bytes;
  } bootstrap_backup;
  void move_parasite_chain_into_area();
  void warn(const std::string& what) const;
  uint64_t chain_top(detail::ThreadRecord& t, const detail::SavedState& saved, size_t calls);
  void keep_area_on_death();
  uint64_t borrow_bootstrap_room(const detail::SavedState& saved, size_t bytes);
  void refuse_if_mdwe();
  void start_daemon();
  // Saves a thread's state, writes its cure chain, parks it on the chain
  // and blocks its signals, once; it gets all back at cure.
  detail::ThreadRecord& borrow(pid_t tid);
  std::vector<detail::ChainCall> chain_calls(detail::ThreadRecord& t) const;
  void set_borrow_options(detail::ThreadRecord& t);
  long parked_syscall(detail::ThreadRecord& t, long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                      uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);
  long syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
  // A buffer of kScratchSize bytes in the target for the memory arguments
  // of remote syscalls (read and written with detail::read_mem/write_mem
  // through main_tid), room for many threads' at once.  Valid while the
  // parasite is mapped.
  static constexpr size_t kScratchSize = 64 * 1024;
  uint64_t scratch() const { return stack_top; }

  // Writes the command's header and in_len bytes of input, sends it to the
  // parasite and reads back out_len bytes of results.  Throws if the
  // command reports an error.  Commands run in the parasite thread.
  parasite_args& run(uint32_t cmd, size_t in_len, size_t out_len);
  void send_command(uint32_t cmd, size_t in_len);
  // The result of the command last sent, within the tree's timeout.
  int64_t await_answer(uint32_t cmd);
  // The answer to the command last sent, if it came within timeout_ms;
  // meanwhile keeps the main thread going through group stops.
  bool poll_answer(int timeout_ms, int64_t& ret);
  parasite_args& finish_command(uint32_t cmd, int64_t ret, size_t out_len);
  void tend_daemon();
  void throw_if_died(const std::string& during);

  // A pidfd naming the process through main_tid (pidfd_getfd through the
  // process's pidfd fails once the main thread has exited).
  int get_pidfd();
  void open_pipe();
  uint64_t splice_batch(uint32_t nr, int out_fd, const std::function<void(uint64_t)>& progress);

  void cure();               // throws the first failure, after undoing all it can
  void cure_quietly() noexcept;
  void abandon() noexcept;   // the tree was killed: nothing to undo
  void stop_daemon(detail::ThreadRecord& main);
  void close_remote_fds(detail::ThreadRecord& main);
  void give_back(detail::ThreadRecord& t);
  void park_in_interrupt_stop(detail::ThreadRecord& t);
  void stop_if_running(detail::ThreadRecord& t);
  std::string who() const { return "pid " + std::to_string(pid); }
};

}  // namespace compel
