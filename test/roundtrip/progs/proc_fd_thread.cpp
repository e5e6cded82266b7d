// An fd on /proc/PID/task/TID/ of a thread other than the main thread: the
// restorer makes threads only after every fd is in place, so the dump must
// refuse it by name, and the program runs on untouched.
#include "testlib.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

#include <atomic>
#include <string>

namespace {

std::atomic<pid_t> g_tid{0};
std::atomic<bool> g_stop{false};

void* thread_main(void*) {
  g_tid = pid_t(syscall(SYS_gettid));
  while (!g_stop) usleep(1000);
  return nullptr;
}

}  // namespace

int main() {
  rt::block_term();
  pthread_t t;
  RT_CHECK(pthread_create(&t, nullptr, thread_main, nullptr) == 0, "pthread_create");
  while (!g_tid) usleep(1000);
  std::string path = "/proc/self/task/" + std::to_string(g_tid) + "/stat";
  int fd = open(path.c_str(), O_RDONLY);
  RT_CHECK(fd >= 0, "open %s", path.c_str());
  rt::ready();
  rt::wait_term();
  char buf[64];
  RT_CHECK(pread(fd, buf, sizeof(buf), 0) > 0, "read %s", path.c_str());
  g_stop = true;
  pthread_join(t, nullptr);
  rt::pass();
}
