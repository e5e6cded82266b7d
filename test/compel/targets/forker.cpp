// Keeps forking short-lived children and creating short-lived threads, so
// that new tasks appear and vanish while compel seizes the tree.  Every
// child must exit 0 and every thread must be joined; told "stop", it reports
// the counts and exits 0 if all went well.
#include <pthread.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdint>

#include "target.h"

static std::atomic<bool> stop{false};
static std::atomic<long> threads_made{0};

static void work() {
  volatile uint64_t x = 0;
  for (int i = 0; i < 20000; i++) x = x + static_cast<uint64_t>(i);
}

static void* short_thread(void*) {
  work();
  return nullptr;
}

static void* thread_maker(void*) {
  while (!stop) {
    pthread_t t;
    if (pthread_create(&t, nullptr, short_thread, nullptr) != 0) target::fail("pthread_create failed");
    pthread_join(t, nullptr);
    threads_made++;
  }
  return nullptr;
}

int main() {
  pthread_t maker;
  pthread_create(&maker, nullptr, thread_maker, nullptr);
  target::say("ready");
  long forks = 0;
  while (!target::stop_requested()) {
    pid_t c = fork();
    if (c < 0) target::fail("fork failed: %s", strerror(errno));
    if (c == 0) {
      if (forks % 4 == 0 && fork() == 0) {  // now and then a grandchild
        work();
        _exit(0);
      }
      work();
      _exit(0);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) target::fail("waitpid failed: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) target::fail("child %d ended with status 0x%x", c, st);
    forks++;
  }
  stop = true;
  pthread_join(maker, nullptr);
  target::say("forks=%ld threads=%ld", forks, threads_made.load());
  return 0;
}
