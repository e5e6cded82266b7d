// fanotify groups across the round trip: their flags and every mark, of
// each kind, with masks and ignore masks.
//
//   notif   FAN_CLASS_NOTIF, O_NONBLOCK, events opened O_RDONLY:
//           fan-dir       FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD
//           fan-dir/quiet ignore FAN_CLOSE_WRITE (surviving modification)
//   marks   FAN_REPORT_DFID_NAME, blocking: marks only compared, never read
//           (other programs may write there):
//           the mount of /dev/shm    FAN_CLOSE_WRITE
//           the filesystem of /dev/shm  FAN_CREATE | FAN_ONDIR
//
// On SIGTERM: both groups' fdinfo lines are what they were (flags, marks
// with inode, mount id, device, masks); writing fan-dir/loud reports
// FAN_CLOSE_WRITE with an fd on that file, writing fan-dir/quiet nothing.
#include "anonlib.h"
#include "fslib.h"

#include <sys/fanotify.h>
#include <sys/stat.h>

#include <set>

namespace {

std::set<std::string> marks(int fd) {
  std::vector<std::string> v = rt::fdinfo_lines(fd, "fanotify ");
  return std::set<std::string>(v.begin(), v.end());
}

void mark(int group, unsigned flags, uint64_t mask, const char* path) {
  RT_CHECK(fanotify_mark(group, FAN_MARK_ADD | flags, mask, AT_FDCWD, path) == 0, "fanotify_mark %s: %s", path,
           strerror(errno));
}

void write_file(const char* path) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  RT_CHECK(fd >= 0 && write(fd, "x", 1) == 1, "write %s: %s", path, strerror(errno));
  close(fd);
}

// The paths of the FAN_CLOSE_WRITE events queued on `group`.
std::vector<std::string> closed_files(int group, int wait_ms) {
  std::vector<std::string> out;
  if (!rt::readable_within(group, wait_ms)) return out;
  alignas(fanotify_event_metadata) char buf[4096];
  ssize_t n = read(group, buf, sizeof(buf));
  RT_CHECK(n > 0, "read fanotify: %s", strerror(errno));
  auto* m = reinterpret_cast<fanotify_event_metadata*>(buf);
  for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
    RT_CHECK(m->vers == FANOTIFY_METADATA_VERSION, "fanotify metadata version %d", m->vers);
    if (m->fd < 0) continue;
    if (m->mask & FAN_CLOSE_WRITE) out.push_back(rt::read_link("/proc/self/fd/" + std::to_string(m->fd)));
    close(m->fd);
  }
  return out;
}

}  // namespace

int main() {
  rt::block_term();
  mkdir("fan-dir", 0755);
  write_file("fan-dir/quiet");
  int notif = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE);
  int group = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, O_RDONLY);
  RT_CHECK(notif >= 0 && group >= 0, "fanotify_init: %s", strerror(errno));
  mark(notif, 0, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, "fan-dir");
  mark(notif, FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_WRITE, "fan-dir/quiet");
  mark(group, FAN_MARK_MOUNT, FAN_CLOSE_WRITE, "/dev/shm");
  mark(group, FAN_MARK_FILESYSTEM, FAN_CREATE | FAN_ONDIR, "/dev/shm");
  std::set<std::string> notif_before = marks(notif), group_before = marks(group);
  RT_CHECK(notif_before.size() == 3 && group_before.size() == 3, "fdinfo shows %zu and %zu lines",
           notif_before.size(), group_before.size());
  char cwd[4096];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  rt::ready();
  rt::wait_term();

  std::set<std::string> notif_after = marks(notif), group_after = marks(group);
  for (const std::string& l : notif_before)
    RT_CHECK(notif_after.count(l), "the notif group lost \"%s\"", l.c_str());
  for (const std::string& l : group_before)
    RT_CHECK(group_after.count(l), "the marks group lost \"%s\"", l.c_str());
  RT_CHECK(notif_after.size() == notif_before.size() && group_after.size() == group_before.size(),
           "the groups have more fdinfo lines than they had");
  RT_CHECK(rt::nonblocking(notif) && !rt::nonblocking(group), "flags changed");
  RT_CHECK(closed_files(notif, 0).empty(), "events queued before the check");

  write_file("fan-dir/quiet");
  write_file("fan-dir/loud");
  std::vector<std::string> closed = closed_files(notif, 5000);
  std::string loud = std::string(cwd) + "/fan-dir/loud";
  RT_CHECK(closed.size() == 1 && closed[0] == loud, "after writing quiet and loud: %zu events, the first on %s",
           closed.size(), closed.empty() ? "-" : closed[0].c_str());
  rt::pass();
}
