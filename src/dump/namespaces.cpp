#include "dump/namespaces.h"

#include <sys/stat.h>

#include <optional>
#include <string>

#include "ckpt/error.h"

namespace ckpt::dump {

namespace {

// Every kind /proc/PID/ns shows.  A namespace is one nsfs inode: two tasks
// share it if their links stat to the same device and inode.
constexpr const char* kKinds[] = {"uts", "ipc", "net", "pid", "user", "cgroup", "time", "mnt"};
// Where a task's next children go: unshare(CLONE_NEWPID) and
// unshare(CLONE_NEWTIME) change only these, the task itself stays.
struct ForChildren {
  const char* link;
  const char* kind;
};
constexpr ForChildren kForChildren[] = {{"pid_for_children", "pid"}, {"time_for_children", "time"}};

struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

// Absent: a kernel without that kind (time namespaces are 5.6), or, for
// pid_for_children, a new pid namespace whose first process (its init) is
// not made yet: the kernel shows none until then.
std::optional<NsId> ns_of(const std::string& task_dir, const char* kind) {
  struct stat st;
  std::string path = task_dir + "/ns/" + kind;
  if (stat(path.c_str(), &st) == 0) return NsId{st.st_dev, st.st_ino};
  if (errno != ENOENT) throw sys_error("cannot read " + path);
  return std::nullopt;
}

std::string who(pid_t pid, pid_t tid) {
  return tid == pid ? format("pid %d", pid) : format("thread %d of pid %d", tid, pid);
}

std::string task_dir(pid_t pid, pid_t tid) { return format("/proc/%d/task/%d", pid, tid); }

void check_own(pid_t pid, pid_t tid) {
  std::string dir = task_dir(pid, tid);
  for (const char* kind : kKinds) {
    std::optional<NsId> ours = ns_of("/proc/self", kind), its = ns_of(dir, kind);
    if (ours && its != ours)
      throw Error(format("%s is in another %s namespace than ckpt: namespaces are not supported yet",
                         who(pid, tid).c_str(), kind));
  }
}

void check_for_children(pid_t pid, pid_t tid) {
  std::string dir = task_dir(pid, tid);
  for (const ForChildren& f : kForChildren) {
    // (Ours is always there: ckpt's pid namespace has its init.)
    std::optional<NsId> ours = ns_of("/proc/self", f.link), its = ns_of(dir, f.link);
    if (ours && its != ours)
      throw Error(format("%s has made a new %s namespace for its children (its %s is not ckpt's): namespaces are not "
                         "supported yet",
                         who(pid, tid).c_str(), f.kind, f.link));
  }
}

}  // namespace

void refuse_other_namespaces(const TreeView& tree) {
  // ckpt's own namespace's init: its restore could only give it pid 1 back
  // in a new namespace, which ckpt does not make yet.
  for (const TaskView& p : tree.processes)
    if (p.pid == 1)
      throw Error("pid 1 is the init of ckpt's PID namespace: it could only be restored as pid 1 of a new PID "
                  "namespace, and namespaces are not supported yet");
  // A task in another namespace first (`unshare --pid --fork` leaves its
  // own task in ckpt's pid namespace and puts its child in the new one: the
  // child is the one to name), then a task whose next children would be.
  for (auto check : {check_own, check_for_children})
    for (const TaskView& p : tree.processes)
      for (pid_t tid : p.tids) check(p.pid, tid);
}

}  // namespace ckpt::dump
