#include "action/action_script.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::action {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::PreDump: return "pre-dump";
    case Stage::PostDump: return "post-dump";
    case Stage::PreRestore: return "pre-restore";
    case Stage::PostRestore: return "post-restore";
    case Stage::NetworkLock: return "network-lock";
    case Stage::NetworkUnlock: return "network-unlock";
    case Stage::PreResume: return "pre-resume";
    case Stage::PostResume: return "post-resume";
  }
  return "?";
}

namespace {

// The child's environment: ckpt's, with the script's three variables set
// (CRTOOLS_INIT_PID removed when there is no pid yet, so that an inherited
// one cannot mislead the script).
std::vector<std::string> script_env(Stage stage, const std::string& images_dir, int init_pid) {
  std::vector<std::string> env;
  for (char** e = environ; *e; e++) {
    std::string v = *e;
    if (v.starts_with("CRTOOLS_SCRIPT_ACTION=") || v.starts_with("CRTOOLS_IMAGE_DIR=") ||
        v.starts_with("CRTOOLS_INIT_PID="))
      continue;
    env.push_back(std::move(v));
  }
  env.push_back(std::string("CRTOOLS_SCRIPT_ACTION=") + stage_name(stage));
  env.push_back("CRTOOLS_IMAGE_DIR=" + images_dir);
  if (init_pid > 0) env.push_back("CRTOOLS_INIT_PID=" + std::to_string(init_pid));
  return env;
}

// fork + exec of /bin/sh -c SCRIPT; returns the wait status.  Everything the
// child needs is built before the fork.
int run_one(const std::string& script, const std::vector<std::string>& env) {
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) throw sys_error(format("action script %s cannot be started: fork", script.c_str()));
  if (pid == 0) {
    // None of ckpt's fds (images, log, the frozen tree's) but stdio; the
    // signal mask and dispositions a shell expects.
    close_range(3, ~0u, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execve(argv[0], const_cast<char**>(argv), envp.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw sys_error(format("cannot wait for action script %s", script.c_str()));
  }
  return status;
}

}  // namespace

void Scripts::run(Stage stage) const {
  if (scripts_.empty()) return;
  std::vector<std::string> env = script_env(stage, images_dir_, init_pid_);
  for (const std::string& script : scripts_) {
    LOG_INFO("Running action script %s (%s)", script.c_str(), stage_name(stage));
    int status = run_one(script, env);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    std::string how = WIFEXITED(status) ? format("it exited with status %d", WEXITSTATUS(status))
                                        : format("it was killed by %s", strsignal(WTERMSIG(status)));
    throw Error(format("action script %s failed at stage %s: %s", script.c_str(), stage_name(stage), how.c_str()));
  }
}

}  // namespace ckpt::action
