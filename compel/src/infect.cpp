// Infection and cure: the parasite blob is copied into a shared anonymous
// mapping made by a remote mmap(2) in the process's main thread (its first
// live thread if the main thread has exited); commands
// run in whichever thread they concern; cure unmaps the area and gives
// every borrowed thread its registers and signal mask back.  A thread that
// was stopped inside a syscall gets exactly its old registers back, so the
// kernel restarts the syscall (-ERESTARTSYS, -ERESTART_RESTARTBLOCK, ...) as
// it would have when leaving the stop.
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
#include "rseq.h"

static_assert(sizeof(parasite_args) <= PARASITE_ARGS_SIZE, "parasite args overflow their area");
static_assert(offsetof(parasite_args, u) == PARASITE_ARGS_HEADER_SIZE, "parasite args header");
static_assert(sizeof(parasite_timer) == 48 && sizeof(parasite_iov) == 16);
static_assert(sizeof(parasite_area_policy) == 16 + sizeof(ckpt_mempolicy) &&
              sizeof(parasite_area_policies) == 8 + PARASITE_MAX_AREA_POLICIES * sizeof(parasite_area_policy));
static_assert(sizeof(parasite_process_info) == 64 * 32 + 3 * 32 + 32);
static_assert(offsetof(parasite_vmsplice, iov) == 16);

namespace compel {

using detail::ThreadRecord;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kFlagTrap = 0x100, kFlagDirection = 0x400;
constexpr uint64_t kUserCs64 = 0x33;  // __USER_CS: a 64-bit task

uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

// The blob's fixed places, checked once against the protocol header.
void check_blob() {
  static const bool ok = [] {
    const unsigned char* b = ckpt_blob_parasite;
    return ckpt_blob_parasite_size > PARASITE_SYSCALL_OFFSET + 3 && b[PARASITE_ENTRY_OFFSET] == 0xe8 &&
           b[PARASITE_ENTRY_TRAP_OFFSET] == 0xcc && b[PARASITE_SYSCALL_OFFSET] == 0x0f &&
           b[PARASITE_SYSCALL_OFFSET + 1] == 0x05 && b[PARASITE_SYSCALL_OFFSET + 2] == 0xcc;
  }();
  if (!ok) throw Error("the embedded parasite blob does not match include/ckpt/parasite_proto.h");
}

const char* command_name(uint32_t cmd) {
  switch (cmd) {
    case PARASITE_CMD_PROCESS_INFO: return "PROCESS_INFO";
    case PARASITE_CMD_TIMERS: return "TIMERS";
    case PARASITE_CMD_PIPE_OPEN: return "PIPE_OPEN";
    case PARASITE_CMD_VMSPLICE: return "VMSPLICE";
    case PARASITE_CMD_FINI: return "FINI";
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
void Infection::Impl::refuse_if_mdwe(ThreadRecord& main) {
  constexpr long kPrGetMdwe = 66;  // <linux/prctl.h> of 6.3
  long mdwe = detail::remote_syscall(main, outside_site, main.borrowed->gp, tree->deadline(), SYS_prctl, kPrGetMdwe,
                                     0, 0, 0, 0);
  if (mdwe > 0)
    throw Error("cannot inject the parasite into thread " + std::to_string(main_tid) + " of " + who() +
                ": it has memory-deny-write-execute (PR_SET_MDWE " + std::to_string(mdwe) +
                "), which refuses the parasite a writable code mapping; such processes are not supported yet");
}

void Infection::Impl::start() {
  ThreadRecord& main = main_thread();
  outside_site = detail::find_syscall_site(pid, main_tid, main.borrowed->gp);
  uint64_t blob_size = page_up(ckpt_blob_parasite_size);
  uint64_t size = blob_size + PARASITE_ARGS_SIZE + PARASITE_STACK_SIZE;
  // Shared, so it never merges with a neighbour of the process's own.
  long r = detail::remote_syscall(main, outside_site, main.borrowed->gp, tree->deadline(), SYS_mmap, 0, size,
                                  PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS,
                                  static_cast<uint64_t>(-1), 0);
  if (r == -EACCES) refuse_if_mdwe(main);
  if (r < 0 && r > -4096)
    throw Error("cannot infect " + who() + ": remote mmap of the parasite failed: " +
                detail::errno_text(static_cast<int>(-r)));
  area = static_cast<uint64_t>(r);
  area_size = size;
  args_addr = area + blob_size;
  stack_top = args_addr + PARASITE_ARGS_SIZE + PARASITE_STACK_SIZE;
  if (!detail::write_mem(main_tid, area, ckpt_blob_parasite, ckpt_blob_parasite_size))
    throw Error("cannot infect " + who() + ": copying the parasite in failed: " + detail::errno_text(errno));
}

ThreadRecord& Infection::Impl::borrow(pid_t tid) {
  if (!tree) throw Error("the infection of " + who() + " is already cured");
  ThreadRecord& t = tree->live_thread(tid, "the infection of " + who());
  if (t.borrowed) return t;
  detail::SavedState saved = detail::save_state(tid);
  if (saved.gp.cs != kUserCs64)
    throw Error("cannot run code in thread " + std::to_string(tid) + " of " + who() +
                ": it runs 32-bit code (not supported)");
  suspend_seccomp(t);
  detail::rseq_abort_if_inside(tid, saved.gp);
  t.borrowed = std::move(saved);
  borrowed.push_back(tid);
  // Nothing but the injected code's own traps (and SIGKILL/SIGSTOP) may
  // reach the thread while it runs parasite code.  SIGTRAP stays unblocked:
  // a trap (int3, a single step) that finds SIGTRAP blocked makes the kernel
  // reset the process's SIGTRAP action to SIG_DFL, and the program would die
  // of its next trap (one found ignored is reset too: the dump refuses
  // those, and a SIGTRAP already pending, which a trap would merge with).
  detail::set_sigmask(tid, ~0ULL & ~(1ULL << (SIGTRAP - 1)));
  return t;
}

// A seccomp filter could refuse (or kill on) the injected syscalls; the
// kernel lets a privileged tracer suspend it while the thread is borrowed.
void Infection::Impl::suspend_seccomp(ThreadRecord& t) {
  long r = detail::pt_try(PTRACE_SETOPTIONS, t.tid, 0, t.options | PTRACE_O_SUSPEND_SECCOMP);
  if (r == 0) {
    t.seccomp_suspended = true;
    return;
  }
  if (proc::seccomp_mode(pid, t.tid) != 0)
    throw Error("cannot infect " + who() + ": thread " + std::to_string(t.tid) +
                " runs under seccomp, and suspending it failed (it needs CAP_SYS_ADMIN): " +
                detail::errno_text(static_cast<int>(-r)));
}

long Infection::Impl::syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                              uint64_t a6) {
  ThreadRecord& main = main_thread();
  detail::SyscallSite site = outside_site;
  if (area) site = {detail::SyscallSite::Trapped, area + PARASITE_SYSCALL_OFFSET};
  return detail::remote_syscall(main, site, main.borrowed->gp, tree->deadline(), nr, a1, a2, a3, a4, a5, a6);
}

long Infection::Impl::thread_syscall(pid_t tid, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                     uint64_t a5, uint64_t a6) {
  ThreadRecord& t = borrow(tid);
  if (!area) throw Error("the parasite is not mapped in " + who());
  detail::SyscallSite site{detail::SyscallSite::Trapped, area + PARASITE_SYSCALL_OFFSET};
  return detail::remote_syscall(t, site, t.borrowed->gp, tree->deadline(), nr, a1, a2, a3, a4, a5, a6);
}

uint64_t Infection::Impl::scratch() const { return args_addr; }

void Infection::Impl::start_command(ThreadRecord& t, uint32_t cmd, size_t in_len) {
  args->version = PARASITE_PROTO_VERSION;
  args->cmd = cmd;
  args->ret = 0;
  args->reply_version = 0;
  args->failed_line = 0;
  if (!detail::write_mem(main_tid, args_addr, args.get(), PARASITE_ARGS_HEADER_SIZE + in_len))
    throw Error("parasite command " + std::string(command_name(cmd)) + " in " + who() +
                ": writing its arguments failed: " + detail::errno_text(errno));
  user_regs_struct regs = t.borrowed->gp;
  regs.rip = area + PARASITE_ENTRY_OFFSET;
  regs.rsp = stack_top;
  regs.rdi = args_addr;
  regs.rax = 0;
  regs.orig_rax = static_cast<uint64_t>(-1);  // see remote_syscall()
  regs.eflags &= ~(kFlagTrap | kFlagDirection);
  detail::set_gp(t.tid, regs);
  detail::pt(PTRACE_CONT, t.tid, 0, 0, "starting the parasite");
  t.running = true;
}

parasite_args& Infection::Impl::finish_command(ThreadRecord& t, size_t out_len) {
  std::string name = command_name(args->cmd);
  if (!detail::read_mem(main_tid, args_addr, args.get(), PARASITE_ARGS_HEADER_SIZE + out_len))
    throw Error("parasite command " + name + " in " + who() + ": reading its results failed: " +
                detail::errno_text(errno));
  if (args->reply_version != PARASITE_PROTO_VERSION)
    throw Error("parasite command " + name + " in " + who() + ": the parasite speaks protocol " +
                std::to_string(args->reply_version) + ", compel " + std::to_string(PARASITE_PROTO_VERSION));
  if (args->ret < 0)
    throw Error("parasite command " + name + " in thread " + std::to_string(t.tid) + " of " + who() +
                " failed" + (args->failed_line ? " (parasite line " + std::to_string(args->failed_line) + ")" : "") +
                ": " + detail::errno_text(static_cast<int>(-args->ret)));
  return *args;
}

parasite_args& Infection::Impl::run(pid_t tid, uint32_t cmd, size_t in_len, size_t out_len) {
  ThreadRecord& t = borrow(tid);
  if (!area) throw Error("the parasite is not mapped in " + who());
  start_command(t, cmd, in_len);
  auto deadline = tree->deadline();
  std::string what = "parasite command " + std::string(command_name(cmd));
  for (;;) {
    auto r = detail::wait_report(t.tid, t.own_child, deadline);
    if (!r) throw Error(what + " in " + who() + " did not finish in time");
    if (detail::on_report(t, *r, PTRACE_CONT, entry_trap_ip(), what)) break;
  }
  return finish_command(t, out_len);
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

void Infection::Impl::give_back(ThreadRecord& t) {
  stop_if_running(t);
  if (t.dead || t.running) {
    t.borrowed.reset();
    return;
  }
  if (t.patched) {
    detail::poke_word(t.tid, t.patched->first, t.patched->second);
    t.patched.reset();
  }
  detail::restore_state(t.tid, *t.borrowed);
  t.borrowed.reset();
  if (t.seccomp_suspended) {
    detail::pt(PTRACE_SETOPTIONS, t.tid, 0, t.options, "resuming seccomp");
    t.seccomp_suspended = false;
  }
  park_in_interrupt_stop(t);
}

// A thread that ran parasite code or a remote syscall is left in the
// signal-delivery stop of its last trap.  Should ckpt die there (killed
// while it commits the images of a tree it is to kill), the kernel would
// deliver that SIGTRAP as the thread leaves the stop, and the program would
// die of it.  An interrupt stop (PTRACE_EVENT_STOP), as the freeze left it
// in, delivers nothing when its tracer goes: PTRACE_INTERRUPT, then resume
// with no signal, and the thread stops again before it runs a single
// instruction (the kernel takes pending ptrace traps before any signal).
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
  ThreadRecord* main = tree->threads.count(main_tid) ? &tree->threads[main_tid] : nullptr;
  if (main) attempt([&] { stop_if_running(*main); });
  bool main_usable = main && !main->dead && !main->running && main->borrowed;
  if (main_usable && area && (remote_pipe[0] >= 0 || remote_pipe[1] >= 0)) {
    attempt([&] {
      args->u.fini.fds[0] = remote_pipe[0];
      args->u.fini.fds[1] = remote_pipe[1];
      remote_pipe[0] = remote_pipe[1] = -1;
      run(main_tid, PARASITE_CMD_FINI, sizeof(parasite_fini), 0);
    });
  }
  pipe.reset();
  main_usable = main && !main->dead && !main->running && main->borrowed;
  if (main_usable && area) {
    attempt([&] {
      long r = detail::remote_syscall(*main, outside_site, main->borrowed->gp, tree->deadline(), SYS_munmap, area,
                                      area_size);
      if (r < 0) throw Error("cannot cure " + who() + ": remote munmap of the parasite failed: " +
                             detail::errno_text(static_cast<int>(-r)));
      area = 0;
    });
  }
  for (pid_t tid : borrowed) attempt([&] { give_back(tree->threads[tid]); });
  borrowed.clear();
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

Infection::Range Infection::parasite_area() const { return {impl_->area, impl_->area ? impl_->area_size : 0}; }
pid_t Infection::pid() const { return impl_->pid; }

}  // namespace compel
