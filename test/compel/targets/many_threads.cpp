// N threads (argv[1], 100 unless given) each blocked in read(2) on one
// pipe, and the main thread in read(2) on the control pipe: a process wide
// enough to time the per-thread work of compel (compel_bench).  Told
// "stop", it closes the pipe, which ends every read with 0, and joins them.
#include <pthread.h>

#include <atomic>
#include <vector>

#include "target.h"

namespace {

int wake[2];
std::atomic<int> started{0};

void* wait_for_eof(void*) {
  started++;
  char c;
  ssize_t n = read(wake[0], &c, 1);
  if (n != 0) target::fail("a thread read %zd from the wake pipe", n);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  if (pipe(wake) != 0) target::fail("pipe: %s", strerror(errno));
  std::vector<pthread_t> threads(static_cast<size_t>(n));
  for (pthread_t& t : threads) {
    int r = pthread_create(&t, nullptr, wait_for_eof, nullptr);
    if (r != 0) target::fail("pthread_create: %s", strerror(r));
  }
  while (started.load() < n) sched_yield();
  target::say("ready %d", n);
  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("main thread read \"%s\"", cmd.c_str());
  close(wake[1]);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  return 0;
}
