// One syscall in a thread parked on its cure chain (cure.h): resumed, the
// thread enters the chain's rt_sigreturn; at that syscall-entry stop
// compel turns it into the syscall it wants, returning to the sigreturn
// sequence again.  At no moment can the thread, let go by a dead tracer,
// run anything but that syscall and then its chain: syscall stops deliver
// no signal when the tracer goes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cure.h"
#include "tree.h"

namespace compel::detail {

// Runs nr(a1..a6) in thread t, parked with rsp = parked_sp, and leaves it
// parked.  Returns the raw result (-errno on failure).  Throws TaskDied if
// the thread dies, Error on a timeout or an unexpected stop.
long parked_syscall(ThreadRecord& t, const CureGadgets& g, uint64_t parked_sp, Deadline deadline, long nr,
                    uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0,
                    uint64_t a6 = 0);

// One syscall in each of several parked threads at once: all are started,
// then each is rewritten at its entry stop, then each result taken at its
// exit stop, so that the threads' round trips overlap.
struct ParkedCall {
  ThreadRecord* thread;
  uint64_t parked_sp;
  long nr;
  uint64_t args[6];
  long result = 0;  // out: the raw result
};
void parked_syscalls(std::vector<ParkedCall>& calls, const CureGadgets& g, Deadline deadline);

// Resumes t with `request` until its next syscall stop, letting group stops
// happen meanwhile.
void run_to_syscall_stop(ThreadRecord& t, int request, Deadline deadline, const std::string& what);
// The same in two halves: resume, then wait.
void resume(ThreadRecord& t, int request, const std::string& what);
void wait_syscall_stop(ThreadRecord& t, int request, Deadline deadline, const std::string& what);

}  // namespace compel::detail
