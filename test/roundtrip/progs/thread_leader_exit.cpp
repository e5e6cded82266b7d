// A process whose main thread has ended (pthread_exit) while two threads
// go on: the leader stays a zombie task of the live process, its pid is
// still the process's, and restore must keep it so.
//   W  waits until the leader is a zombie, says it is ready, takes SIGTERM
//      (blocked everywhere, so it is W's sigtimedwait that takes it), checks
//      and ends the process with exit(0/1);
//   X  sleeps in FUTEX_WAIT until W wakes it, then checks its tid.
// W checks: getpid() is the leader's pid, /proc/self/task/PID/stat and
// /proc/self/status say Z, the task list is the leader, W and X and nothing
// else, Threads: is what it was, and X is asleep in its futex wait.
#include "mtlib.h"

namespace {

enum { W, X, kThreads };
pthread_t g_handle[kThreads];
std::atomic<pid_t> g_tid[kThreads] = {0, 0};
std::atomic<int> g_go{0};
rt::Report g_x_report;
pid_t g_pid;

void* run_x(void*) {
  g_tid[X] = gettid();
  while (g_go.load() == 0) rt::futex_wait(g_go, 0, nullptr);
  if (gettid() != g_tid[X].load()) g_x_report.fail("tid %d, was %d", gettid(), g_tid[X].load());
  else g_x_report.pass();
  return nullptr;
}

void* run_w(void*) {
  g_tid[W] = gettid();
  pid_t pid = g_pid;
  RT_CHECK(rt::poll_until([&] { return rt::task_state(pid) == 'Z' && g_tid[X].load() != 0; }, 10),
           "the main thread is not a zombie within 10 s (state %c)", rt::task_state(pid));
  RT_CHECK(rt::await_in_syscall(g_tid[X], SYS_futex, 10), "X is not in its futex wait");
  std::vector<pid_t> tasks = {pid, g_tid[W], g_tid[X]};
  std::sort(tasks.begin(), tasks.end());
  RT_CHECK(rt::task_list() == tasks, "the task list is not the leader, W and X");
  std::string threads = rt::status_field(pid, "Threads");

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  if (getpid() != pid) v.add("getpid() is %d, want %d", getpid(), pid);
  if (gettid() != g_tid[W].load()) v.add("W's tid is %d, was %d", gettid(), g_tid[W].load());
  if (rt::task_state(pid) != 'Z') v.add("the leader's task is in state %c, want Z", rt::task_state(pid));
  std::string state = rt::status_field_of("/proc/self/status", "State");
  if (state.empty() || state[0] != 'Z') v.add("/proc/self/status says State: %s, want Z", state.c_str());
  if (rt::task_list() != tasks) v.add("the task list is not the leader, W and X (%zu tasks)", rt::task_list().size());
  if (rt::status_field(pid, "Threads") != threads)
    v.add("Threads: %s, was %s", rt::status_field(pid, "Threads").c_str(), threads.c_str());
  if (!rt::await_in_syscall(g_tid[X], SYS_futex, 10)) v.add("X is not asleep in its futex wait");
  rt::store_wake(g_go, 1);
  v.take(g_x_report, "X", 30);
  if (!rt::join_within(g_handle[X], 30)) v.add("X cannot be joined within 30 s");
  exit(v.print());
}

}  // namespace

int main() {
  rt::block_term();  // in every thread
  g_pid = getpid();
  RT_CHECK(pthread_create(&g_handle[X], nullptr, run_x, nullptr) == 0, "pthread_create X");
  RT_CHECK(pthread_create(&g_handle[W], nullptr, run_w, nullptr) == 0, "pthread_create W");
  pthread_exit(nullptr);
}
