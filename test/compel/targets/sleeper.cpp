// One nanosleep(2 s): interrupted and cured many times, it must neither
// return early (EINTR) nor start its 2 s again (a restart must resume the
// same sleep through restart_syscall).
#include <time.h>

#include <cerrno>

#include "target.h"

int main(int argc, char** argv) {
  double max_s = argc > 1 ? atof(argv[1]) : 2.1;
  struct timespec t0, t1, want = {2, 0}, rem = {0, 0};
  target::say("ready");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int r = nanosleep(&want, &rem);
  int err = errno;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double slept = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (r != 0) target::fail("nanosleep returned %d (%s) after %.3f s", r, strerror(err), slept);
  if (slept < 2.0 || slept > max_s) target::fail("nanosleep(2 s) took %.3f s", slept);
  fprintf(stderr, "slept %.3f s\n", slept);
  return 0;
}
