#include "task/sched.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "ckpt/error.h"
#include "ckpt/kernel_types.h"
#include "ckpt/log.h"

namespace ckpt::task {

namespace {

using SchedAttr = ckpt_k_sched_attr;
static_assert(sizeof(SchedAttr) == 56);  // SCHED_ATTR_SIZE_VER1

constexpr uint32_t kSchedDeadline = 6;
constexpr uint32_t kSchedExt = 7;
constexpr uint64_t kResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

bool get_attr(pid_t tid, SchedAttr& a) {
  a = SchedAttr{};
  return syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) == 0;
}

bool real_time(uint32_t policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }

// sched_getattr reports no nice value for a real-time thread, yet the
// thread keeps one (it has it again when it leaves real time);
// getpriority shows it under every policy.
int nice_of(pid_t pid, pid_t tid) {
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, id_t(tid));
  if (nice == -1 && errno) throw sys_error(format("cannot read the nice value of thread %d of pid %d", tid, pid));
  return nice;
}

// One sched_setattr; throws naming what was asked.
void set_attr(pid_t pid, pid_t tid, uint32_t policy, int nice, uint32_t priority, bool reset_on_fork) {
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = policy;
  a.sched_nice = nice;
  a.sched_priority = priority;
  a.sched_flags = reset_on_fork ? kResetOnFork : 0;
  if (syscall(SYS_sched_setattr, tid, &a, 0) == 0) return;
  int err = errno;
  throw sys_error(format("cannot restore thread %d of pid %d: cannot give it %s, nice %d%s%s", tid, pid,
                         policy_name(policy).c_str(), nice,
                         real_time(policy) ? format(", priority %u", priority).c_str() : "",
                         reset_on_fork ? ", reset on fork" : ""),
                  err);
}

}  // namespace

std::string policy_name(uint32_t policy) {
  switch (policy) {
    case SCHED_OTHER: return "SCHED_OTHER";
    case SCHED_FIFO: return "SCHED_FIFO";
    case SCHED_RR: return "SCHED_RR";
    case SCHED_BATCH: return "SCHED_BATCH";
    case SCHED_IDLE: return "SCHED_IDLE";
    case kSchedDeadline: return "SCHED_DEADLINE";
    case kSchedExt: return "SCHED_EXT";
  }
  return format("policy %u", policy);
}

img::SchedEntry read_sched(pid_t pid, pid_t tid) {
  SchedAttr a;
  if (!get_attr(tid, a)) throw sys_error(format("cannot read the scheduling of thread %d of pid %d", tid, pid));
  switch (a.sched_policy) {
    case SCHED_OTHER: case SCHED_BATCH: case SCHED_IDLE: case SCHED_FIFO: case SCHED_RR: break;
    default:
      throw Error(format("cannot dump thread %d of pid %d: it runs under %s, which ckpt does not restore", tid, pid,
                         policy_name(a.sched_policy).c_str()));
  }
  img::SchedEntry s;
  s.set_policy(a.sched_policy);
  s.set_nice(nice_of(pid, tid));
  if (real_time(a.sched_policy)) s.set_rt_priority(a.sched_priority);
  if (a.sched_flags & kResetOnFork) s.set_reset_on_fork(true);
  return s;
}

void apply_sched(pid_t pid, pid_t tid, const img::SchedEntry& want) {
  // The nice value first, under SCHED_OTHER: the kernel takes sched_nice
  // only with a fair policy, yet keeps it for a real-time thread (which
  // gets it back when it leaves real time).  Then the policy itself, with
  // reset-on-fork.
  bool other = want.policy() == SCHED_OTHER;
  set_attr(pid, tid, SCHED_OTHER, want.nice(), 0, other && want.reset_on_fork());
  if (!other) set_attr(pid, tid, want.policy(), want.nice(), want.rt_priority(), want.reset_on_fork());

  SchedAttr got;
  if (!get_attr(tid, got)) throw sys_error(format("cannot read the scheduling of restored thread %d of pid %d", tid, pid));
  int nice = nice_of(pid, tid);
  bool same = got.sched_policy == want.policy() && nice == want.nice() &&
              (!real_time(want.policy()) || got.sched_priority == want.rt_priority()) &&
              bool(got.sched_flags & kResetOnFork) == want.reset_on_fork();
  if (!same)
    throw Error(format("cannot restore thread %d of pid %d: it was given %s nice %d priority %u and has %s nice %d "
                       "priority %u",
                       tid, pid, policy_name(want.policy()).c_str(), want.nice(), want.rt_priority(),
                       policy_name(got.sched_policy).c_str(), nice, got.sched_priority));
  LOG_DEBUG("thread %d of pid %d: %s, nice %d, priority %u%s", tid, pid, policy_name(want.policy()).c_str(),
            want.nice(), want.rt_priority(), want.reset_on_fork() ? ", reset on fork" : "");
}

}  // namespace ckpt::task
