// Infection and cure.  The parasite goes into a shared anonymous mapping at
// an address compel picks, made by a remote mmap(2) in the process's main
// thread (its first live thread if the main thread has exited), which then
// runs the parasite's command loop; every other thread only ever runs
// single remote syscalls.  Each borrowed thread is parked on a cure chain
// (cure.h) from the moment its registers change, so that a compel that
// dies at any point leaves every thread on its way back.  The regular cure
// stops the loop, closes the parasite's fds, unmaps the area and gives each
// thread exactly its registers and signal mask back: a thread that was
// stopped inside a syscall gets its old registers, so the kernel restarts
// the syscall (-ERESTARTSYS, -ERESTART_RESTARTBLOCK, ...) as it would have
// when leaving the stop.
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "blob.h"
#include "infect.h"
#include "proc.h"
#include "remote_syscall.h"
#include "rseq.h"

static_assert(sizeof(parasite_args) <= PARASITE_ARGS_SIZE, "parasite args overflow their area");
static_assert(offsetof(parasite_args, u) == PARASITE_ARGS_HEADER_SIZE, "parasite args header");
static_assert(sizeof(parasite_timer) == 48 && sizeof(parasite_iov) == 16);
static_assert(sizeof(parasite_area_policy) == 16 + sizeof(ckpt_mempolicy) &&
              sizeof(parasite_area_policies) == 8 + PARASITE_MAX_AREA_POLICIES * sizeof(parasite_area_policy));
static_assert(sizeof(parasite_process_info) == 64 * 32 + 3 * 32 + 32);
static_assert(offsetof(parasite_vmsplice, iov) == 16);
static_assert(sizeof(parasite_msg) == 16 && sizeof(parasite_bootstrap) == 160);
static_assert(offsetof(parasite_bootstrap, addr) == 48 && offsetof(parasite_syscall, args) == 8);

namespace compel {

using detail::ThreadRecord;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kFlagTrap = 0x100, kFlagDirection = 0x400;
constexpr uint64_t kUserCs64 = 0x33;  // __USER_CS: a 64-bit task
constexpr long kMapFixedNoreplace = 0x100000;

uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

void check_blob() {
  static const bool ok = ckpt_blob_parasite_size > 8 && ckpt_blob_parasite[PARASITE_ENTRY_OFFSET] == 0xe8;
  if (!ok) throw Error("the embedded parasite blob does not match include/ckpt/parasite_proto.h");
}

const char* command_name(uint32_t cmd) {
  switch (cmd) {
    case PARASITE_CMD_PROCESS_INFO: return "PROCESS_INFO";
    case PARASITE_CMD_TIMERS: return "TIMERS";
    case PARASITE_CMD_PIPE_OPEN: return "PIPE_OPEN";
    case PARASITE_CMD_VMSPLICE: return "VMSPLICE";
    case PARASITE_CMD_SYSCALL: return "SYSCALL";
    case PARASITE_CMD_AREA_POLICIES: return "AREA_POLICIES";
  }
  return "?";
}

}  // namespace

Infection::Impl::Impl(FrozenTree::Impl& t, pid_t p, pid_t main) : tree(&t), pid(p), main_tid(main), args(new parasite_args) {}

Infection::Infection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Infection::Infection(Infection&&) noexcept = default;
Infection& Infection::operator=(Infection&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->cure_quietly();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Infection::~Infection() {
  if (impl_) impl_->cure_quietly();
}

Infection Infection::infect(FrozenTree& tree, pid_t pid) {
  check_blob();
  FrozenTree::Impl& t = *tree.impl_;
  if (t.finished) throw Error("cannot infect pid " + std::to_string(pid) + ": its tree has been released");
  Process* p = t.find_process(pid);
  if (!p) throw Error("cannot infect pid " + std::to_string(pid) + ": it is not part of the frozen tree");
  if (p->state == TaskState::Zombie) throw Error("cannot infect pid " + std::to_string(pid) + ": it is a zombie");
  for (Infection::Impl* other : t.infections)
    if (other->pid == pid) throw Error("cannot infect pid " + std::to_string(pid) + ": it is already infected");
  auto live = std::find_if(p->threads.begin(), p->threads.end(),
                           [](const Thread& th) { return th.state != TaskState::Zombie; });
  if (live == p->threads.end())
    throw Error("cannot infect pid " + std::to_string(pid) + ": it has no live thread");
  auto impl = std::make_unique<Impl>(t, pid, live->tid);
  t.infections.push_back(impl.get());
  try {
    impl->start();
  } catch (...) {
    impl->cure_quietly();
    throw;
  }
  return Infection(std::move(impl));
}

// Memory-deny-write-execute (PR_SET_MDWE) refuses the parasite's writable
// code mapping, and cannot be lifted: the process is refused by name.
void Infection::Impl::refuse_if_mdwe() {
  constexpr long kPrGetMdwe = 66;  // <linux/prctl.h> of 6.3
  long mdwe = parked_syscall(borrow(main_tid), SYS_prctl, kPrGetMdwe);
  if (mdwe > 0)
    throw Error("cannot inject the parasite into thread " + std::to_string(main_tid) + " of " + who() +
                ": it has memory-deny-write-execute (PR_SET_MDWE " + std::to_string(mdwe) +
                "), which refuses the parasite a writable code mapping; such processes are not supported yet");
}

// The parasite's thread keeps its chain on its own stack if it can: the
// chain unmaps the area, and is needed before the area exists.  nullopt if
// no thread can.
std::optional<pid_t> Infection::Impl::pick_parasite_thread(const Process& p) const {
  for (const Thread& th : p.threads) {
    if (th.state == TaskState::Zombie) continue;
    detail::SavedState s = detail::save_state(th.tid);
    if (detail::room_on_own_stack(s.gp, detail::cure_chain_bytes(s, kParasiteChainCalls), maps)) return th.tid;
  }
  return std::nullopt;
}

void Infection::Impl::start() {
  maps = proc::maps(pid, main_tid);
  if (maps.empty()) throw Error("cannot infect " + who() + ": its memory map cannot be read");
  gadgets = detail::find_cure_gadgets(pid, main_tid, maps);
  if (!gadgets.syscall_ret)
    warn(who() + ": its code has no \"syscall; ret\" sequence: should ckpt die, the parasite area and its fds " +
         "would stay behind (every thread would still get back)");
  const Process* p = tree->find_process(pid);
  std::optional<pid_t> on_stack = pick_parasite_thread(*p);
  if (on_stack) main_tid = *on_stack;
  uint64_t blob_size = page_up(ckpt_blob_parasite_size);
  chain_slots_nr = p->threads.size();
  uint64_t base_size = blob_size + PARASITE_ARGS_SIZE + PARASITE_STACK_SIZE + kScratchSize;
  area_size = base_size + chain_slots_nr * kChainSlotSize;
  area = detail::pick_area_address(pid, maps, area_size);
  args_addr = area + blob_size;
  stack_top = args_addr + PARASITE_ARGS_SIZE + PARASITE_STACK_SIZE;
  chain_slots = area + base_size;
  ThreadRecord& main = borrow(main_tid);  // its chain unmaps the area
  refuse_if_mdwe();
  // Shared, so it never merges with a neighbour of the process's own.
  long r = parked_syscall(main, SYS_mmap, area, area_size, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_SHARED | MAP_ANONYMOUS | kMapFixedNoreplace, static_cast<uint64_t>(-1), 0);
  if (static_cast<uint64_t>(r) != area)
    throw Error("cannot infect " + who() + ": remote mmap of the parasite failed: " +
                (r < 0 && r > -4096 ? detail::errno_text(static_cast<int>(-r)) : "it went elsewhere"));
  area_mapped = true;
  if (!detail::write_mem(main_tid, area, ckpt_blob_parasite, ckpt_blob_parasite_size))
    throw Error("cannot infect " + who() + ": copying the parasite in failed: " + detail::errno_text(errno));
  if (!bootstrap_backup.bytes.empty()) move_parasite_chain_into_area();
  start_daemon();
}

void Infection::Impl::warn(const std::string& what) const {
  if (tree->opts.warn) tree->opts.warn(what);
}

// Into the first chain slot, without the munmap (its last frame is read
// from the area), and the borrowed bytes back.
void Infection::Impl::move_parasite_chain_into_area() {
  ThreadRecord& main = tree->threads.at(main_tid);
  std::vector<detail::ChainCall> calls = chain_calls(main);
  if (!calls.empty()) calls.pop_back();
  uint64_t pending = proc::pending_signals(main_tid).value_or(0);
  detail::CureChain chain = detail::write_cure_chain(pid, main_tid, main_tid, *main.borrowed, pending, gadgets, calls,
                                                     chain_slots + ++chain_slots_used * kChainSlotSize);
  chains[main_tid] = chain;
  detail::set_gp(main_tid, detail::parked_regs(main.borrowed->gp, gadgets, chain));
  if (!detail::write_mem(main_tid, bootstrap_backup.addr, bootstrap_backup.bytes.data(), bootstrap_backup.bytes.size()))
    throw Error("cannot infect " + who() + ": putting back the stack bytes borrowed for the first cure frames failed: " +
                detail::errno_text(errno));
  bootstrap_backup = {};
  area_outlives_death = true;
}

// The main thread leaves its chain for the parasite's loop; should compel
// die from here on, the parasite finds its socket closed (or cannot
// connect) and takes the chain itself.
void Infection::Impl::start_daemon() {
  ThreadRecord& main = borrow(main_tid);
  control = detail::ControlSocket::listen_for(pid, main_tid);
  const detail::CureChain& chain = chains.at(main_tid);
  parasite_bootstrap& b = args->u.bootstrap;
  std::memset(&b, 0, sizeof(b));
  b.chain_sp = chain.parked_sp();
  b.sigreturn_gadget = gadgets.sigreturn;
  if (chain.arg_slots.size() >= 3) {
    b.socket_slot = chain.arg_slots[0];
    b.pipe_slots[0] = chain.arg_slots[1];
    b.pipe_slots[1] = chain.arg_slots[2];
  }
  b.addr_len = control.address_len();
  std::memcpy(b.addr, &control.address(), control.address_len());
  args->version = PARASITE_PROTO_VERSION;
  args->cmd = 0;
  if (!detail::write_mem(main_tid, args_addr, args.get(), PARASITE_ARGS_HEADER_SIZE + sizeof(b)))
    throw Error("cannot infect " + who() + ": writing the parasite's bootstrap failed: " + detail::errno_text(errno));
  user_regs_struct regs = detail::parked_regs(main.borrowed->gp, gadgets, chain);
  regs.rip = area + PARASITE_ENTRY_OFFSET;
  regs.rsp = stack_top;
  regs.rdi = args_addr;
  regs.eflags &= ~(kFlagTrap | kFlagDirection);
  detail::set_gp(main.tid, regs);
  detail::pt(PTRACE_CONT, main.tid, 0, 0, "starting the parasite");
  main.running = true;
  daemon_running = true;
  remote_socket = control.accept_parasite(pid, tree->deadline());
}

// The parasite's own fds and area go with the main thread's chain (the
// munmap last: keep_area_on_death); the
// other threads only need to get back.  Under seccomp the chain makes no
// call the filter could punish once compel is gone (it is suspended only
// while compel traces the thread): the area then stays behind.
std::vector<detail::ChainCall> Infection::Impl::chain_calls(ThreadRecord& t) const {
  if (t.tid != main_tid || proc::seccomp_mode(pid, t.tid) != 0) return {};
  uint64_t none = static_cast<uint64_t>(-1);
  std::vector<detail::ChainCall> calls = {
      {SYS_close, none}, {SYS_close, none}, {SYS_close, none}, {SYS_munmap, area, area_size}};
  static_assert(kParasiteChainCalls == 4);
  return calls;
}

ThreadRecord& Infection::Impl::borrow(pid_t tid) {
  if (!tree) throw Error("the infection of " + who() + " is already cured");
  ThreadRecord& t = tree->live_thread(tid, "the infection of " + who());
  if (t.borrowed) return t;
  detail::SavedState saved = detail::save_state(tid);
  if (saved.gp.cs != kUserCs64)
    throw Error("cannot run code in thread " + std::to_string(tid) + " of " + who() +
                ": it runs 32-bit code (not supported)");
  set_borrow_options(t);
  detail::rseq_abort_if_inside(tid, saved.gp);
  rseq_configs[tid] = detail::rseq_config(tid);
  // The order makes every moment safe should compel die: the chain first
  // (it restores the thread's own mask), then the registers that lead
  // into it, then the mask that keeps the program's handlers out.
  uint64_t pending = proc::pending_signals(tid).value_or(0);
  std::vector<detail::ChainCall> calls = chain_calls(t);
  uint64_t top = chain_top(t, saved, calls.size());
  detail::CureChain chain = detail::write_cure_chain(pid, main_tid, tid, saved, pending, gadgets, calls, top);
  t.borrowed = std::move(saved);
  borrowed.push_back(tid);
  chains[tid] = chain;
  detail::set_gp(tid, detail::parked_regs(t.borrowed->gp, gadgets, chain));
  detail::set_sigmask(tid, ~0ULL);
  return t;
}

// On the thread's own stack if it can take the chain, else in a slot of
// the area (which from then on outlives a dead compel).
uint64_t Infection::Impl::chain_top(ThreadRecord& t, const detail::SavedState& saved, size_t calls) {
  size_t bytes = detail::cure_chain_bytes(saved, calls);
  if (uint64_t top = detail::room_on_own_stack(saved.gp, bytes, maps)) return top;
  if (!area_mapped && t.tid == main_tid) return borrow_bootstrap_room(saved, bytes);
  if (!area_mapped || t.tid == main_tid || bytes > kChainSlotSize || chain_slots_used >= chain_slots_nr)
    throw Error("cannot infect " + who() + ": thread " + std::to_string(t.tid) +
                " has no room for the frames that cure it (" + std::to_string(bytes) + " bytes)");
  keep_area_on_death();
  return chain_slots + ++chain_slots_used * kChainSlotSize;
}

// No thread has room below its stack pointer (a stack used to its
// bottom): the first chain goes over the top of the parasite thread's
// stack mapping (argv, the environment, the first frames: nothing runs
// while the tree is frozen), backed up and put back a few syscalls later.
// Should compel die in between, those bytes stay overwritten: said.
uint64_t Infection::Impl::borrow_bootstrap_room(const detail::SavedState& saved, size_t bytes) {
  const proc::MapArea* at = proc::mapping_of_stack_pointer(maps, saved.gp.rsp);
  if (!at || !at->write || at->end - saved.gp.rsp < bytes + 128)
    throw Error("cannot infect " + who() + ": thread " + std::to_string(main_tid) +
                " has no room on its stack for the frames that cure it (" + std::to_string(bytes) + " bytes)");
  bootstrap_backup.addr = (at->end - bytes) & ~uint64_t(63);
  bootstrap_backup.bytes.resize(at->end - bootstrap_backup.addr);
  if (!detail::read_mem(main_tid, bootstrap_backup.addr, bootstrap_backup.bytes.data(), bootstrap_backup.bytes.size()))
    throw Error("cannot infect " + who() + ": reading the top of its stack failed: " + detail::errno_text(errno));
  warn("pid " + std::to_string(pid) + ": no thread has room below its stack pointer for the frames that cure it " +
       "should ckpt die; the first ones borrow the top of thread " + std::to_string(main_tid) +
       "'s stack for a moment, and the parasite area would stay behind");
  return at->end;
}

// The chain of the parasite's thread would unmap the area while another
// thread still has to read its frame from there: it leaves the area alone
// (its munmap becomes a getpid).
void Infection::Impl::keep_area_on_death() {
  if (area_outlives_death) return;
  const detail::CureChain& main_chain = chains.at(main_tid);
  uint64_t nr = SYS_getpid;
  if (!main_chain.nr_slots.empty() &&  // the munmap is its last call (chain_calls)
      !detail::write_mem(main_tid, main_chain.nr_slots.back(), &nr, sizeof(nr)))
    throw Error("cannot infect " + who() + ": rewriting the cure chain failed: " + detail::errno_text(errno));
  area_outlives_death = true;
  warn(who() + ": a thread runs on a stack of its own making (a coroutine or goroutine stack?): its cure frames " +
       "live in the parasite area, which would stay behind should ckpt die");
}

// PTRACE_O_TRACESYSGOOD tells syscall stops from signals.  A seccomp
// filter could refuse (or kill on) the injected syscalls; the kernel lets a
// privileged tracer suspend it while the thread is borrowed.
void Infection::Impl::set_borrow_options(ThreadRecord& t) {
  uint64_t want = t.options | PTRACE_O_TRACESYSGOOD;
  long r = detail::pt_try(PTRACE_SETOPTIONS, t.tid, 0, want | PTRACE_O_SUSPEND_SECCOMP);
  if (r == 0) {
    t.options_changed = true;
    return;
  }
  if (proc::seccomp_mode(pid, t.tid) != 0)
    throw Error("cannot infect " + who() + ": thread " + std::to_string(t.tid) +
                " runs under seccomp, and suspending it failed (it needs CAP_SYS_ADMIN): " +
                detail::errno_text(static_cast<int>(-r)));
  detail::pt(PTRACE_SETOPTIONS, t.tid, 0, want, "setting the ptrace options");
  t.options_changed = true;
}

long Infection::Impl::parked_syscall(ThreadRecord& t, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                     uint64_t a5, uint64_t a6) {
  return detail::parked_syscall(t, gadgets, chains.at(t.tid).parked_sp(), tree->deadline(), nr, a1, a2, a3, a4, a5,
                                a6);
}

long Infection::Impl::syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                              uint64_t a6) {
  if (!daemon_running) return parked_syscall(borrow(main_tid), nr, a1, a2, a3, a4, a5, a6);
  args->u.syscall = {nr, {a1, a2, a3, a4, a5, a6}};
  send_command(PARASITE_CMD_SYSCALL, sizeof(parasite_syscall));
  return await_answer(PARASITE_CMD_SYSCALL);  // a syscall's -errno is its result, not a failure
}

// A failure to reach the parasite is its process's death, if it is dying:
// TaskDied then, which tells the caller there is nothing left to cure.
void Infection::Impl::throw_if_died(const std::string& during) {
  if (!proc::is_dead(main_tid)) return;
  daemon_running = false;
  detail::throw_died(main_tid, during);
}

void Infection::Impl::send_command(uint32_t cmd, size_t in_len) {
  if (!daemon_running) throw Error("the parasite of " + who() + " is not running");
  args->version = PARASITE_PROTO_VERSION;
  args->cmd = cmd;
  args->ret = 0;
  args->reply_version = 0;
  args->failed_line = 0;
  if (!detail::write_mem(main_tid, args_addr, args.get(), PARASITE_ARGS_HEADER_SIZE + in_len)) {
    int err = errno;
    throw_if_died("parasite command " + std::string(command_name(cmd)));
    throw Error("parasite command " + std::string(command_name(cmd)) + " in " + who() +
                ": writing its arguments failed: " + detail::errno_text(err));
  }
  try {
    control.send(cmd, ++seq);
  } catch (const Error&) {
    throw_if_died("parasite command " + std::string(command_name(cmd)));
    throw;
  }
}

// The main thread runs free in the parasite; a stop signal sent to the
// process meanwhile is reported to compel, which lets the group stop
// happen and the thread go on.
void Infection::Impl::tend_daemon() {
  ThreadRecord& main = tree->threads.at(main_tid);
  auto r = detail::poll_report(main.tid, main.own_child);
  if (!r) return;
  switch (r->kind) {
    case detail::Report::Exited:
      main.dead = true;
      main.reaped = r->reaped;
      main.running = false;
      daemon_running = false;
      detail::throw_died(main.tid, "a parasite command");
    case detail::Report::EventStop:
      detail::pt(PTRACE_CONT, main.tid, 0, 0, "resuming the parasite");
      return;
    case detail::Report::SignalStop:
      if (detail::is_stop_signal(r->sig)) {
        detail::pt(PTRACE_CONT, main.tid, 0, static_cast<uint64_t>(r->sig), "resuming the parasite");
        return;
      }
      main.running = false;
      daemon_running = false;
      throw Error("the parasite in " + who() + " stopped with signal " + std::to_string(r->sig) + " (" +
                  strsignal(r->sig) + ")");
  }
}

bool Infection::Impl::poll_answer(int timeout_ms, int64_t& ret) {
  tend_daemon();
  try {
    return control.poll_answer(seq, timeout_ms, ret);
  } catch (const Error&) {
    throw_if_died("a parasite command");
    throw;
  }
}

parasite_args& Infection::Impl::finish_command(uint32_t cmd, int64_t ret, size_t out_len) {
  std::string name = command_name(cmd);
  if (!detail::read_mem(main_tid, args_addr, args.get(), PARASITE_ARGS_HEADER_SIZE + out_len)) {
    int err = errno;
    throw_if_died("parasite command " + name);
    throw Error("parasite command " + name + " in " + who() + ": reading its results failed: " +
                detail::errno_text(err));
  }
  if (args->reply_version != PARASITE_PROTO_VERSION)
    throw Error("parasite command " + name + " in " + who() + ": the parasite speaks protocol " +
                std::to_string(args->reply_version) + ", compel " + std::to_string(PARASITE_PROTO_VERSION));
  if (ret < 0)
    throw Error("parasite command " + name + " in " + who() + " failed" +
                (args->failed_line ? " (parasite line " + std::to_string(args->failed_line) + ")" : "") + ": " +
                detail::errno_text(static_cast<int>(-ret)));
  return *args;
}

int64_t Infection::Impl::await_answer(uint32_t cmd) {
  auto deadline = tree->deadline();
  int64_t ret = 0;
  while (!poll_answer(10, ret))
    if (deadline.passed())
      throw Error("parasite command " + std::string(command_name(cmd)) + " in " + who() + " did not finish in time");
  return ret;
}

parasite_args& Infection::Impl::run(uint32_t cmd, size_t in_len, size_t out_len) {
  send_command(cmd, in_len);
  return finish_command(cmd, await_answer(cmd), out_len);
}

void Infection::Impl::stop_if_running(ThreadRecord& t) {
  if (!t.running || t.dead) return;
  detail::pt_try(PTRACE_INTERRUPT, t.tid, 0, 0);
  auto r = detail::wait_report(t.tid, t.own_child, detail::Deadline::in_ms(std::min(tree->opts.timeout_ms, 2000)));
  if (r && r->kind == detail::Report::Exited) {
    t.dead = true;
    t.reaped = r->reaped;
  }
  if (r) t.running = false;
}

// Out of the parasite's loop and back onto the chain, where the rest of the
// cure is remote syscalls.
void Infection::Impl::stop_daemon(ThreadRecord& main) {
  if (!daemon_running) return;
  stop_if_running(main);
  if (main.running) throw Error("the parasite in " + who() + " does not stop");
  daemon_running = false;
  if (main.dead) return;
  detail::set_gp(main.tid, detail::parked_regs(main.borrowed->gp, gadgets, chains.at(main.tid)));
}

void Infection::Impl::close_remote_fds(ThreadRecord& main) {
  for (int* fd : {&remote_pipe[0], &remote_pipe[1], &remote_socket}) {
    if (*fd < 0) continue;
    long r = parked_syscall(main, SYS_close, static_cast<uint64_t>(*fd));
    if (r < 0)
      throw Error("cannot cure " + who() + ": closing the parasite's fd " + std::to_string(*fd) + " failed: " +
                  detail::errno_text(static_cast<int>(-r)));
    *fd = -1;
  }
}

void Infection::Impl::give_back(ThreadRecord& t) {
  stop_if_running(t);
  if (t.dead || t.running) {
    t.borrowed.reset();
    return;
  }
  detail::restore_state(t.tid, *t.borrowed);
  t.borrowed.reset();
  if (t.options_changed) {
    detail::pt(PTRACE_SETOPTIONS, t.tid, 0, t.options, "taking back the ptrace options");
    t.options_changed = false;
  }
  park_in_interrupt_stop(t);
}

// A cured thread is left in an interrupt stop (PTRACE_EVENT_STOP), as the
// freeze left it: that stop delivers nothing when its tracer goes, where
// the syscall stop of the last remote syscall would resume into the
// thread's registers with the kernel's restart logic skipped.
// PTRACE_INTERRUPT, then resume with no signal, and the thread stops again
// before it runs a single instruction (the kernel takes pending ptrace
// traps before any signal).
void Infection::Impl::park_in_interrupt_stop(ThreadRecord& t) {
  detail::pt(PTRACE_INTERRUPT, t.tid, 0, 0, "parking a cured thread");
  detail::pt(PTRACE_CONT, t.tid, 0, 0, "parking a cured thread");
  auto r = detail::wait_report(t.tid, t.own_child, tree->deadline());
  if (!r) throw Error("thread " + std::to_string(t.tid) + " of " + who() + " did not stop again after its cure");
  if (r->kind == detail::Report::Exited) {
    t.dead = true;
    t.reaped = r->reaped;
  }
}

void Infection::Impl::cure() {
  if (!tree) return;
  std::exception_ptr first;
  auto attempt = [&](auto&& step) {
    try {
      step();
    } catch (const TaskDied&) {
      // Nothing is left to put back in a task that is gone.
      for (pid_t tid : borrowed)
        if (proc::is_dead(tid)) tree->threads[tid].dead = true;
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  };
  // The other threads first: the main thread's chain unmaps the area.
  for (pid_t tid : borrowed)
    if (tid != main_tid) attempt([&] { give_back(tree->threads[tid]); });
  ThreadRecord* main = tree->threads.count(main_tid) && tree->threads[main_tid].borrowed ? &tree->threads[main_tid]
                                                                                      : nullptr;
  bool cured_main = false;
  if (main) {
    attempt([&] {
      stop_daemon(*main);
      if (main->dead) return;
      close_remote_fds(*main);
      if (area_mapped) {
        long r = parked_syscall(*main, SYS_munmap, area, area_size);
        if (r < 0)
          throw Error("cannot cure " + who() + ": remote munmap of the parasite failed: " +
                      detail::errno_text(static_cast<int>(-r)));
        area_mapped = false;
      }
      give_back(*main);
      cured_main = true;
    });
    if (!cured_main) attempt([&] { give_back(*main); });
  }
  // Stack bytes the first chain borrowed, if the infection failed before
  // it gave them back: now that no thread is parked on them (and every
  // thread is stopped: nothing read them meanwhile).
  if (!bootstrap_backup.bytes.empty())
    attempt([&] {
      if (!detail::write_mem(main_tid, bootstrap_backup.addr, bootstrap_backup.bytes.data(),
                             bootstrap_backup.bytes.size()))
        throw Error("cannot cure " + who() + ": putting back the stack bytes borrowed for the first cure frames "
                    "failed: " + detail::errno_text(errno));
      bootstrap_backup = {};
    });
  control.close();
  pipe.reset();
  borrowed.clear();
  chains.clear();
  rseq_configs.clear();
  auto& list = tree->infections;
  list.erase(std::remove(list.begin(), list.end(), this), list.end());
  tree = nullptr;
  if (first) std::rethrow_exception(first);
}

void Infection::Impl::cure_quietly() noexcept {
  try {
    cure();
  } catch (...) {
  }
}

void Infection::Impl::abandon() noexcept { tree = nullptr; }

void Infection::cure() {
  if (impl_) impl_->cure();
}

long Infection::syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  return impl_->syscall(nr, a1, a2, a3, a4, a5, a6);
}

Infection::Range Infection::parasite_area() const {
  return {impl_->area, impl_->area_mapped ? impl_->area_size : 0};
}
pid_t Infection::pid() const { return impl_->pid; }

}  // namespace compel
