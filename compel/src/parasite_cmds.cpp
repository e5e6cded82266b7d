// The questions only the process can answer, asked through the parasite,
// plus what ptrace or pidfd_getfd(2) can answer directly from outside.
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "infect.h"
#include "proc.h"

namespace compel {

namespace {

ITimer to_itimer(const ckpt_k_itimerval& t) { return {t.interval_sec, t.interval_usec, t.value_sec, t.value_usec}; }

template <class Impl>
Impl& live(const std::unique_ptr<Impl>& impl) {
  if (!impl || !impl->tree) throw Error("the infection is already cured");
  return *impl;
}

}  // namespace

ProcessInfo Infection::process_info() {
  Impl& m = live(impl_);
  const parasite_process_info& pi =
      m.run(PARASITE_CMD_PROCESS_INFO, 0, sizeof(parasite_process_info)).u.process_info;
  ProcessInfo out{};
  for (int i = 0; i < 64; i++) {
    const ckpt_k_sigaction& a = pi.sigactions[i];
    out.sigactions[i] = {a.handler, a.flags, a.restorer, a.mask};
  }
  out.itimer_real = to_itimer(pi.itimers[0]);
  out.itimer_virt = to_itimer(pi.itimers[1]);
  out.itimer_prof = to_itimer(pi.itimers[2]);
  out.personality = pi.personality;
  out.umask = pi.umask;
  out.pdeath_sig = pi.pdeath_sig;
  out.dumpable = pi.dumpable;
  out.child_subreaper = pi.child_subreaper != 0;
  out.thp_disable = pi.thp_disable;
  out.membarrier = pi.membarrier;
  out.memory_merge = pi.memory_merge;

  // Timer ids and notification come from /proc, their clocks from inside.
  std::vector<proc::TimerDesc> timers = proc::posix_timers(m.pid);
  for (size_t first = 0; first < timers.size(); first += PARASITE_MAX_TIMERS) {
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(timers.size() - first, PARASITE_MAX_TIMERS));
    m.args->u.timers.nr = n;
    for (uint32_t i = 0; i < n; i++) {
      std::memset(&m.args->u.timers.timers[i], 0, sizeof(parasite_timer));
      m.args->u.timers.timers[i].id = timers[first + i].id;
    }
    size_t len = offsetof(parasite_timers, timers) + n * sizeof(parasite_timer);
    const parasite_timers& res = m.run(PARASITE_CMD_TIMERS, len, len).u.timers;
    for (uint32_t i = 0; i < n; i++) {
      const proc::TimerDesc& d = timers[first + i];
      const parasite_timer& t = res.timers[i];
      if (t.ret < 0)
        throw Error("cannot read POSIX timer " + std::to_string(d.id) + " of pid " + std::to_string(m.pid) + ": " +
                    std::strerror(static_cast<int>(-t.ret)));
      out.posix_timers.push_back(PosixTimer{d.id, d.clock_id, d.notify, d.signo, d.notify_tid, d.sigval,
                                            t.interval_sec, t.interval_nsec, t.value_sec, t.value_nsec,
                                            t.overrun});
    }
  }
  return out;
}

std::vector<Infection::AreaPolicy> Infection::area_policies(const std::vector<uint64_t>& addrs) {
  Impl& m = live(impl_);
  std::vector<AreaPolicy> out;
  for (size_t first = 0; first < addrs.size(); first += PARASITE_MAX_AREA_POLICIES) {
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(addrs.size() - first, PARASITE_MAX_AREA_POLICIES));
    parasite_area_policies& in = m.args->u.area_policies;
    in.nr = n;
    for (uint32_t i = 0; i < n; i++) {
      std::memset(&in.areas[i], 0, sizeof(parasite_area_policy));
      in.areas[i].addr = addrs[first + i];
    }
    size_t len = offsetof(parasite_area_policies, areas) + n * sizeof(parasite_area_policy);
    const parasite_area_policies& res = m.run(PARASITE_CMD_AREA_POLICIES, len, len).u.area_policies;
    for (uint32_t i = 0; i < n; i++) {
      const parasite_area_policy& a = res.areas[i];
      out.push_back({a.ret, a.policy.mode, a.policy.flags,
                     std::vector<uint64_t>(std::begin(a.policy.nodes), std::end(a.policy.nodes))});
    }
  }
  return out;
}

std::vector<int> Infection::steal_fds(const std::vector<int>& fds) {
  Impl& m = live(impl_);
  int pidfd = m.get_pidfd();
  std::vector<ckpt::UniqueFd> taken;
  for (int fd : fds) {
    int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    if (copy < 0)
      throw Error("cannot take fd " + std::to_string(fd) + " of pid " + std::to_string(m.pid) + ": " +
                  std::strerror(errno));
    taken.emplace_back(copy);
  }
  std::vector<int> out;
  for (auto& fd : taken) out.push_back(fd.release());
  return out;
}

}  // namespace compel
