// The compel test driver's helpers: targets started as child processes
// with a status and a control pipe, bounded waits, and checks that throw.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "compel/compel.h"

namespace ctest {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by a test that cannot run here (exit code 77: ctest SKIP).
struct Skip : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define CHECK(cond, ...)                                                                          \
  do {                                                                                            \
    if (!(cond)) ::ctest::fail_at(__FILE__, __LINE__, #cond, ::ctest::concat(__VA_ARGS__));       \
  } while (0)

[[noreturn]] void fail_at(const char* file, int line, const char* cond, const std::string& msg);

template <class... T>
std::string concat(const T&... parts) {
  std::ostringstream s;
  ((s << parts), ...);
  return s.str();
}

// A target program (test/compel/targets/NAME) running as our child.
class Target {
 public:
  explicit Target(const std::string& name, const std::vector<std::string>& args = {});
  ~Target();  // SIGKILL and reap if still running
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  pid_t pid() const { return pid_; }
  // The next line on the status pipe (without newline); fails after timeout.
  std::string read_line(int timeout_ms = 5000);
  // Waits for "ready ..." and returns the words after "ready".
  std::vector<std::string> ready(int timeout_ms = 5000);
  void send(const std::string& line);
  // Waits for the exit and returns the raw wait status.
  int wait_exit(int timeout_ms = 10000);
  // Fails unless the target exits 0 within the timeout.
  void expect_success(int timeout_ms = 10000);

 private:
  pid_t pid_ = -1;
  int status_fd_ = -1, control_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
};

// Polls cond every millisecond until it holds; false on timeout.
bool wait_until(const std::function<bool()>& cond, int timeout_ms);

char proc_state(pid_t pid, pid_t tid = 0);  // '?' if gone
std::string read_text(const std::string& path);
std::vector<pid_t> thread_ids(pid_t pid);
pid_t tracer_of(pid_t pid);

// The things cure must leave as they were: maps, signal state, fds.
std::string observable_state(pid_t pid);
// The lines that differ ("- old", "+ new"), position by position.
std::string line_diff(const std::string& before, const std::string& after);

// One infect + PROCESS_INFO + cure cycle inside a fresh freeze.
void infect_cycle(pid_t pid, const std::function<void(compel::FrozenTree&, compel::Infection&)>& extra = {});

// Reaps any exited child (orphans reparented to us, the subreaper).
void reap_orphans();
// Kills and reaps every process still below us (after a failed test).
void kill_leftovers();

void set_verbose(bool v);
void note(const std::string& line);

}  // namespace ctest
