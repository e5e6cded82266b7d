#include "files/open_fd.h"

#include <sys/sysmacros.h>

#include "ckpt/error.h"
#include "files/socket_kind.h"
#include "proc/read.h"

namespace ckpt::files {

OpenFd describe_fd(pid_t pid, int fd, UniqueFd file) {
  OpenFd o;
  o.pid = pid;
  o.fd = fd;
  o.file = std::move(file);
  std::string fd_name = std::to_string(fd);
  o.link = proc::read_link(proc::path(pid, "fd/" + fd_name));
  std::string info_path = proc::path(pid, "fdinfo/" + fd_name);
  o.info = proc::parse_fdinfo(proc::read_file(info_path), info_path);
  if (fstat(o.file.get(), &o.st) < 0) throw sys_error(format("cannot stat fd %d of pid %d", fd, pid));
  return o;
}

OpenFd describe_fd_from_proc(pid_t pid, int fd) {
  OpenFd o;
  o.pid = pid;
  o.fd = fd;
  std::string fd_name = std::to_string(fd);
  std::string link_path = proc::path(pid, "fd/" + fd_name);
  o.link = proc::read_link(link_path);
  std::string info_path = proc::path(pid, "fdinfo/" + fd_name);
  o.info = proc::parse_fdinfo(proc::read_file(info_path), info_path);
  if (stat(link_path.c_str(), &o.st) < 0) throw sys_error(format("cannot stat fd %d of pid %d", fd, pid));
  return o;
}

bool is_deleted(const OpenFd& fd) { return fd.link.ends_with(" (deleted)"); }

namespace {

// "anon_inode:[eventfd]" -> "eventfd", "anon_inode:inotify" -> "inotify",
// and the kernel's names that are not words: "anon_inode:bpf-map" -> "bpf
// map", "anon_inode:[perf_event]" -> "perf event".
std::string anon_inode_name(const std::string& link) {
  std::string name = link.substr(link.find(':') + 1);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  static const std::pair<const char*, const char*> kWords[] = {
      {"eventpoll", "epoll"},      {"perf_event", "perf event"}, {"bpf-map", "bpf map"},
      {"bpf-prog", "bpf program"}, {"bpf-link", "bpf link"},     {"bpf_link", "bpf link"},
  };
  for (const auto& [kernel, word] : kWords)
    if (name == kernel) return word;
  return name.empty() ? "anonymous inode" : name;
}

}  // namespace

std::string kind_name(const OpenFd& fd) {
  const std::string& link = fd.link;
  if (link.starts_with("pipe:")) return "pipe";
  if (link.starts_with("socket:")) return socket_kind_name(fd);
  if (link.starts_with("anon_inode:")) return anon_inode_name(link);
  if (link.starts_with("/memfd:")) return "memfd";
  switch (fd.st.st_mode & S_IFMT) {
    case S_IFIFO: return "FIFO " + link;
    case S_IFSOCK: return socket_kind_name(fd);
    case S_IFBLK: return format("block device %u:%u (%s)", major(fd.st.st_rdev), minor(fd.st.st_rdev), link.c_str());
    case S_IFCHR: return format("character device %u:%u (%s)", major(fd.st.st_rdev), minor(fd.st.st_rdev), link.c_str());
    case S_IFDIR: return "directory " + link;
    case S_IFREG: return "file " + link;
    case S_IFLNK: return "symbolic link " + link;
  }
  return "file of unknown type " + link;
}

}  // namespace ckpt::files
