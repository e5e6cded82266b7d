// Alternate signal stacks, one per thread, across the round trip:
//   A     is inside a SIGUSR2 handler on its alternate stack at dump time,
//         spinning (and counting) until the main thread releases it after
//         SIGTERM.  The handler interrupted a FUTEX_WAIT (SA_RESTART), so
//         its frame on the alternate stack holds a system call to restart.
//         Still in the handler, A checks sigaltstack says SS_ONSTACK with
//         A's stack, its frame lies in that stack, and its mask is A's own
//         plus SIGUSR2 and the handler's sa_mask (SIGWINCH).  After the
//         handler returns (sigreturn from that frame): no longer on the
//         stack, A's own mask again, and the futex wait goes on.
//   B     has an alternate stack of its own (another place and size), not in
//         use; after SIGTERM a SIGUSR2 to B must run on B's stack.
//   main  has none (SS_DISABLE).
#include "mtlib.h"

#include <sys/mman.h>

namespace {

enum { A, B, kThreads };
const char* const kNames[kThreads] = {"A", "B"};
constexpr size_t kSize[kThreads] = {64 * 1024, 96 * 1024};

struct Slot {
  pthread_t handle{};
  char* alt = nullptr;
  std::atomic<pid_t> tid{0};
  std::atomic<int> handled{0};   // its SIGUSR2 handler has returned
  std::atomic<uintptr_t> frame{0};  // a local of the handler
  rt::Report report{};
};
Slot g_slots[kThreads];
thread_local int t_who = -1;
std::atomic<int> g_set_up{0};
std::atomic<int> g_go{0};
std::atomic<int> g_stray{0};  // SIGUSR2 handled in a thread that should not get it

// A, in its handler.
std::atomic<int> g_a_in_handler{0};
std::atomic<int> g_release{0};
std::atomic<uint64_t> g_a_spins{0};
std::atomic<uintptr_t> g_a_frame_after{0};
std::atomic<uint64_t> g_a_handler_mask{0};
stack_t g_a_stack_in_handler{};

uint64_t own_mask(int who) { return rt::bit(SIGTERM) | rt::bit(SIGRTMIN + 1 + who); }

bool on_stack(int who, uintptr_t p) {
  uintptr_t lo = uintptr_t(g_slots[who].alt);
  return p >= lo && p < lo + kSize[who];
}

void on_usr2(int, siginfo_t*, void*) {
  volatile char local = 0;
  int who = t_who;
  if (who < 0) {
    g_stray = 1;
    return;
  }
  Slot& s = g_slots[who];
  s.frame = uintptr_t(&local);
  if (who == A) {
    rt::store_wake(g_a_in_handler, 1);
    uint64_t spins = 0;
    while (!g_release.load(std::memory_order_relaxed)) {
      if ((++spins & 0xffff) == 0) g_a_spins.store(spins, std::memory_order_relaxed);
      __builtin_ia32_pause();
    }
    sigaltstack(nullptr, &g_a_stack_in_handler);
    g_a_frame_after = uintptr_t(&local);
    g_a_handler_mask = rt::thread_mask();
  }
  rt::store_wake(s.handled, 1);
}

void check_a(Slot& s) {
  rt::Report& r = s.report;
  const stack_t& in = g_a_stack_in_handler;
  RT_TCHECK(r, (in.ss_flags & SS_ONSTACK) && in.ss_sp == s.alt && in.ss_size == kSize[A],
            "in the handler sigaltstack says flags %#x sp %p size %zu, want SS_ONSTACK %p %zu", in.ss_flags, in.ss_sp,
            in.ss_size, static_cast<void*>(s.alt), kSize[A]);
  RT_TCHECK(r, on_stack(A, s.frame) && g_a_frame_after.load() == s.frame.load(),
            "the handler's frame was at %#lx, then at %#lx; the stack is at %p", (unsigned long)s.frame.load(),
            (unsigned long)g_a_frame_after.load(), static_cast<void*>(s.alt));
  uint64_t want = own_mask(A) | rt::bit(SIGUSR2) | rt::bit(SIGWINCH);
  RT_TCHECK(r, g_a_handler_mask.load() == want, "mask in the handler %#llx, want %#llx",
            (unsigned long long)g_a_handler_mask.load(), (unsigned long long)want);
  stack_t out{};
  sigaltstack(nullptr, &out);
  RT_TCHECK(r, out.ss_flags == 0 && out.ss_sp == s.alt && out.ss_size == kSize[A],
            "after the handler sigaltstack says flags %#x sp %p size %zu", out.ss_flags, out.ss_sp, out.ss_size);
  RT_TCHECK(r, rt::thread_mask() == own_mask(A), "mask after the handler %#llx, want %#llx",
            (unsigned long long)rt::thread_mask(), (unsigned long long)own_mask(A));
  r.pass();
}

void check_b(Slot& s) {
  rt::Report& r = s.report;
  RT_TCHECK(r, on_stack(B, s.frame), "SIGUSR2 ran at %#lx, not on B's stack at %p", (unsigned long)s.frame.load(),
            static_cast<void*>(s.alt));
  stack_t cur{};
  sigaltstack(nullptr, &cur);
  RT_TCHECK(r, cur.ss_flags == 0 && cur.ss_sp == s.alt && cur.ss_size == kSize[B],
            "sigaltstack says flags %#x sp %p size %zu, want 0 %p %zu", cur.ss_flags, cur.ss_sp, cur.ss_size,
            static_cast<void*>(s.alt), kSize[B]);
  RT_TCHECK(r, rt::thread_mask() == own_mask(B), "mask %#llx, want %#llx", (unsigned long long)rt::thread_mask(),
            (unsigned long long)own_mask(B));
  r.pass();
}

void* run(void* arg) {
  int who = int(reinterpret_cast<intptr_t>(arg));
  Slot& s = g_slots[who];
  t_who = who;
  s.tid = gettid();
  stack_t ss{};
  ss.ss_sp = s.alt;
  ss.ss_size = kSize[who];
  RT_CHECK(sigaltstack(&ss, nullptr) == 0, "sigaltstack %s", kNames[who]);
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, SIGRTMIN + 1 + who);
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  rt::add_wake(g_set_up, 1);
  // A: its handler comes (and returns) while it waits here.
  std::atomic<int>& until = who == A ? s.handled : g_go;
  while (until.load() == 0) rt::futex_wait(until, 0, nullptr);
  if (who == A) check_a(s);
  else check_b(s);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  struct sigaction sa {};
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGWINCH);
  RT_CHECK(sigaction(SIGUSR2, &sa, nullptr) == 0, "sigaction");
  pid_t pid = getpid();
  for (int who = 0; who < kThreads; who++) {
    void* p = mmap(nullptr, kSize[who], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    RT_CHECK(p != MAP_FAILED, "mmap");
    g_slots[who].alt = static_cast<char*>(p);
    RT_CHECK(pthread_create(&g_slots[who].handle, nullptr, run, reinterpret_cast<void*>(intptr_t(who))) == 0,
             "pthread_create");
  }
  RT_CHECK(rt::await_at_least(g_set_up, kThreads, 30), "threads did not start");
  Slot& a = g_slots[A];
  Slot& b = g_slots[B];
  RT_CHECK(rt::await_in_syscall(a.tid, SYS_futex, 10), "A is not in its futex wait");
  RT_CHECK(syscall(SYS_tgkill, pid, a.tid.load(), SIGUSR2) == 0, "tgkill A");
  RT_CHECK(rt::await_at_least(g_a_in_handler, 1, 30), "A did not enter its handler");
  RT_CHECK(on_stack(A, a.frame), "A's handler does not run on A's alternate stack");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  stack_t mine{};
  sigaltstack(nullptr, &mine);
  if (mine.ss_flags != SS_DISABLE) v.add("the main thread has sigaltstack flags %#x, want SS_DISABLE", mine.ss_flags);
  if (a.handled.load() != 0) v.add("A left its handler before it was released");
  uint64_t spins = g_a_spins.load();
  if (!rt::poll_until([&] { return g_a_spins.load() > spins; }, 30))
    v.add("A does not spin on in its handler (still %llu)", (unsigned long long)spins);
  g_release = 1;
  v.take(a.report, "A", 30);

  RT_CHECK(syscall(SYS_tgkill, pid, b.tid.load(), SIGUSR2) == 0, "tgkill B");
  if (!rt::await_at_least(b.handled, 1, 30)) v.add("B did not handle SIGUSR2 within 30 s");
  rt::store_wake(g_go, 1);
  v.take(b.report, "B", 30);
  if (g_stray.load()) v.add("SIGUSR2 was handled in the main thread");
  for (int who = 0; who < kThreads; who++)
    if (!rt::join_within(g_slots[who].handle, 30)) v.add("thread %s cannot be joined within 30 s", kNames[who]);
  v.finish();
}
