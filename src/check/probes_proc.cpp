// Probes of the ways ckpt looks into another process from outside it:
// /proc/PID/map_files, process_vm_readv, pidfd_getfd, kcmp.
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "check/child.h"
#include "check/probe.h"
#include "ckpt/error.h"
#include "ckpt/unique_fd.h"

namespace ckpt::check {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};

// The first entry of /proc/PID/map_files, e.g. "55d0c0a00000-55d0c0a2c000".
std::string first_map_file(pid_t pid) {
  std::string dir = format("/proc/%d/map_files", pid);
  std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
  if (!d) throw sys_error("cannot open " + dir);
  while (struct dirent* e = readdir(d.get()))
    if (e->d_name[0] != '.') return dir + "/" + e->d_name;
  throw Error(dir + " is empty");
}

UniqueFd make_memfd(const char* name) {
  UniqueFd fd(static_cast<int>(syscall(SYS_memfd_create, name, MFD_CLOEXEC)));
  if (!fd) throw sys_error("memfd_create failed");
  return fd;
}

int kcmp_files(pid_t pid1, pid_t pid2, int fd1, int fd2) {
  return static_cast<int>(syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2));
}

}  // namespace

std::string probe_proc_mount() {
  // A PID namespace entered without a fresh /proc (unshare -p without
  // --mount-proc) leaves /proc describing the outer namespace.
  char self[32];
  ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
  if (n < 0) throw sys_error("cannot readlink /proc/self");
  self[n] = '\0';
  if (std::to_string(getpid()) != self)
    throw Error(format("/proc/self is %s but our PID is %d: /proc belongs to another PID namespace "
                       "(mount a new one, e.g. unshare --mount-proc)", self, getpid()));
  return {};
}

std::string probe_map_files() {
  Child child;
  std::string entry = first_map_file(child.pid());
  char target[4096];
  ssize_t n = readlink(entry.c_str(), target, sizeof(target) - 1);
  if (n < 0) throw sys_error("cannot readlink " + entry);
  target[n] = '\0';
  // Opening (not just reading the link) is what dumping a deleted mapped
  // file needs, and it is the part that requires privileges.
  UniqueFd fd(open(entry.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("cannot open " + entry);
  return format("%s -> %s", entry.c_str(), target);
}

std::string probe_process_vm_readv() {
  static char pattern[64];
  snprintf(pattern, sizeof(pattern), "ckpt check pattern %d", getpid());
  std::string expected = pattern;
  Child child;
  // Our copy changes; the child's copy must still hold the pattern.
  memset(pattern, 0, sizeof(pattern));
  char got[sizeof(pattern)] = {};
  struct iovec local = {got, sizeof(got)};
  struct iovec remote = {pattern, sizeof(pattern)};
  ssize_t n = process_vm_readv(child.pid(), &local, 1, &remote, 1, 0);
  if (n < 0) throw sys_error(format("process_vm_readv from child %d failed", child.pid()));
  if (size_t(n) != sizeof(got) || expected != got)
    throw Error("process_vm_readv returned other bytes than the child holds");
  return {};
}

std::string probe_pidfd_getfd() {
  UniqueFd memfd = make_memfd("ckpt-check-getfd");
  Child child;  // inherits memfd at the same number
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child.pid(), 0)));
  if (!pidfd) throw sys_error("pidfd_open failed");
  UniqueFd got(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), memfd.get(), 0)));
  if (!got) throw sys_error(format("pidfd_getfd of fd %d of child %d failed", memfd.get(), child.pid()));
  struct stat a, b;
  if (fstat(memfd.get(), &a) != 0 || fstat(got.get(), &b) != 0) throw sys_error("fstat failed");
  if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
    throw Error("pidfd_getfd returned a different file than the child holds");
  return {};
}

std::string probe_kcmp() {
  UniqueFd a = make_memfd("ckpt-check-kcmp-a");
  UniqueFd b = make_memfd("ckpt-check-kcmp-b");
  UniqueFd dup_a(dup(a.get()));
  if (!dup_a) throw sys_error("dup failed");
  pid_t self = getpid();
  int same = kcmp_files(self, self, a.get(), dup_a.get());
  if (same < 0) throw sys_error("kcmp(KCMP_FILE) failed");
  if (same != 0) throw Error("kcmp(KCMP_FILE) says a descriptor and its dup differ");
  int other = kcmp_files(self, self, a.get(), b.get());
  if (other < 0) throw sys_error("kcmp(KCMP_FILE) failed");
  if (other == 0) throw Error("kcmp(KCMP_FILE) says two distinct files are the same");
  return {};
}

}  // namespace ckpt::check
