// Threads that never stop coming and going: four spawner threads, each
// creating short-lived threads in a loop (one joined, then one detached,
// with at most a few detached ones alive per spawner), while the main
// thread waits in read(2) for "stop".  Publishes the address of its
// counter of finished short threads, so the driver can tell that it runs.
// Told "stop", it joins everything, reports "threads=N" and exits 0 if no
// thread could not be created.
#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "target.h"

namespace {

constexpr int kSpawners = 4;
constexpr int kMaxDetached = 8;  // per spawner
std::atomic<bool> stop{false};
volatile uint64_t finished;  // short threads done (published for the driver)
std::atomic<uint64_t> finished_count{0};

struct Spawner {
  pthread_t thread;
  std::atomic<int> detached{0};
};
Spawner spawners[kSpawners];

void work() {
  volatile uint64_t x = 0;
  for (int i = 0; i < 2000; i++) x = x + static_cast<uint64_t>(i);
}

void done() { finished = ++finished_count; }

void* joined_thread(void*) {
  work();
  done();
  return nullptr;
}

void* detached_thread(void* arg) {
  work();
  done();
  static_cast<Spawner*>(arg)->detached--;
  return nullptr;
}

void* spawner(void* arg) {
  Spawner& s = *static_cast<Spawner*>(arg);
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  while (!stop.load()) {
    pthread_t t;
    int r = pthread_create(&t, nullptr, joined_thread, nullptr);
    if (r != 0) target::fail("pthread_create failed: %s", strerror(r));
    if (s.detached.load() < kMaxDetached) {
      s.detached++;
      pthread_t d;
      r = pthread_create(&d, &detached, detached_thread, &s);
      if (r != 0) target::fail("pthread_create (detached) failed: %s", strerror(r));
    }
    pthread_join(t, nullptr);
  }
  pthread_attr_destroy(&detached);
  return nullptr;
}

}  // namespace

int main() {
  for (Spawner& s : spawners) pthread_create(&s.thread, nullptr, spawner, &s);
  target::say("ready %lu", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(&finished)));
  std::string cmd = target::read_command();
  if (cmd != "stop") target::fail("main thread read \"%s\"", cmd.c_str());
  stop = true;
  for (Spawner& s : spawners) pthread_join(s.thread, nullptr);
  // The detached ones end on their own (bounded: 5 s).
  for (int i = 0; i < 5000; i++) {
    int left = 0;
    for (Spawner& s : spawners) left += s.detached.load();
    if (left == 0) break;
    usleep(1000);
  }
  target::say("threads=%llu", static_cast<unsigned long long>(finished_count.load()));
  return 0;
}
