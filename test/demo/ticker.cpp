// The demo's process: counts up five times a second, one line per tick,
// keeping its count only in memory, so a restored ticker visibly carries on
// from where it was dumped.
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main() {
  unsigned long tick = 0;
  for (;;) {
    printf("tick %lu (pid %d)\n", ++tick, getpid());
    fflush(stdout);
    timespec pause{0, 200 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}
