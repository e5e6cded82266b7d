// A process in namespaces other than ckpt's, whose dump must be refused
// (ckpt would restore it into its own): the dump names the process and the
// namespace and leaves it running; the program then checks it is still in
// its namespace.
//
// CKPT_TEST_NS picks what the program does before it is ready:
//   uts ipc net mnt cgroup user   unshare() that namespace for itself (uts:
//                                 also a hostname of its own)
//   pid-children, time-children   unshare(CLONE_NEWPID / CLONE_NEWTIME):
//                                 only its next children would be in it
//   pid, time                     the same, then fork a child, which is
//                                 (the root stays in ckpt's, as with
//                                 `unshare --pid --fork`)
//   thread-uts                    a second thread unshares its uts namespace
//                                 (namespaces are per thread)
#include "testlib.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace {

const char* const kHostname = "ckpt-ns-test";

struct Kind {
  const char* name;
  int flag;
  const char* link;  // what differs from the driver's afterwards
  bool child;        // a child is made in it
};

const Kind kKinds[] = {
    {"uts", CLONE_NEWUTS, "uts", false},
    {"ipc", CLONE_NEWIPC, "ipc", false},
    {"net", CLONE_NEWNET, "net", false},
    {"mnt", CLONE_NEWNS, "mnt", false},
    {"cgroup", CLONE_NEWCGROUP, "cgroup", false},
    {"user", CLONE_NEWUSER, "user", false},
    {"pid-children", CLONE_NEWPID, "pid_for_children", false},
    {"time-children", CLONE_NEWTIME, "time_for_children", false},
    {"pid", CLONE_NEWPID, "pid_for_children", true},
    {"time", CLONE_NEWTIME, "time_for_children", true},
    {"thread-uts", 0, "uts", false},  // unshared by a second thread
};

// The inode of /proc/self/ns/LINK (or a thread's); 0 if there is none (a
// new pid namespace shows none for pid_for_children until its first
// process exists).
ino_t ns_inode(const char* link, pid_t tid = 0) {
  struct stat st;
  std::string dir = tid ? "/proc/self/task/" + std::to_string(tid) : std::string("/proc/self");
  std::string path = dir + "/ns/" + link;
  if (stat(path.c_str(), &st) == 0) return st.st_ino;
  RT_CHECK(errno == ENOENT, "stat %s: %s", path.c_str(), strerror(errno));
  return 0;
}

// A child in the new namespace: says it runs through a pipe (in a new pid
// namespace it cannot name its parent), then sleeps until killed.
pid_t start_child() {
  int p[2];
  RT_CHECK(pipe(p) == 0, "pipe");
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(p[0]);
    RT_CHECK(write(p[1], "r", 1) == 1, "write");
    close(p[1]);
    for (;;) pause();
  }
  close(p[1]);
  char c;
  RT_CHECK(read(p[0], &c, 1) == 1, "the child did not start");
  close(p[0]);
  return pid;
}

// A thread in a uts namespace of its own until told to end.
class UtsThread {
 public:
  void start() {
    t_ = std::thread([this] { run(); });
    std::unique_lock<std::mutex> l(m_);
    RT_CHECK(cv_.wait_for(l, std::chrono::seconds(60), [this] { return started_; }), "the thread did not start");
    RT_CHECK(unshared_, "unshare(CLONE_NEWUTS) in a thread failed");
  }
  pid_t tid() const { return tid_; }
  void stop() {
    {
      std::lock_guard<std::mutex> g(m_);
      end_ = true;
    }
    cv_.notify_all();
    t_.join();
  }

 private:
  void run() {
    int r = unshare(CLONE_NEWUTS);
    std::unique_lock<std::mutex> l(m_);
    unshared_ = r == 0;
    tid_ = gettid();
    started_ = true;
    cv_.notify_all();
    cv_.wait(l, [this] { return end_; });
  }

  std::mutex m_;
  std::condition_variable cv_;
  bool started_ = false, unshared_ = false, end_ = false;
  pid_t tid_ = 0;
  std::thread t_;
};

}  // namespace

int main() {
  const char* want = getenv("CKPT_TEST_NS");
  RT_CHECK(want, "CKPT_TEST_NS is not set");
  const Kind* kind = nullptr;
  for (const Kind& k : kKinds)
    if (std::string(k.name) == want) kind = &k;
  RT_CHECK(kind, "unknown CKPT_TEST_NS %s", want);
  rt::block_term();
  ino_t before = ns_inode(kind->link);  // the driver's, and ckpt's
  UtsThread thread;
  pid_t tid = 0;
  if (kind->flag) {
    RT_CHECK(unshare(kind->flag) == 0, "unshare(%s): %s", kind->name, strerror(errno));
  } else {
    thread.start();
    tid = thread.tid();
  }
  if (kind->flag == CLONE_NEWUTS) RT_CHECK(sethostname(kHostname, strlen(kHostname)) == 0, "sethostname");
  pid_t child = kind->child ? start_child() : 0;
  ino_t after = ns_inode(kind->link, tid);
  RT_CHECK(after != before, "%s is the driver's after unshare", kind->link);
  rt::ready();
  rt::wait_term();

  RT_CHECK(ns_inode(kind->link, tid) == after, "%s is not what it was after the refused dump", kind->link);
  if (tid) thread.stop();
  if (kind->flag == CLONE_NEWUTS) {
    char name[64] = {};
    gethostname(name, sizeof(name) - 1);
    RT_CHECK(strcmp(name, kHostname) == 0, "hostname is %s, want %s", name, kHostname);
  }
  if (child) {
    kill(child, SIGKILL);  // the init of a pid namespace ignores what it has no handler for
    int status;
    RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  }
  rt::pass();
}
