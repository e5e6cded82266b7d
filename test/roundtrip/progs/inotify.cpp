// inotify across the round trip: every watch with its path, mask and watch
// descriptor, numbers freed before the dump included.
//
//   in   O_NONBLOCK; watches, in the order added:
//        1  ino-dir          IN_CREATE | IN_DELETE
//        2  ino-gone-1       (removed before the dump)
//        3  ino-gone-2       (removed before the dump)
//        4  ino-file         IN_MODIFY | IN_ONESHOT
//        5  ino-link         IN_ATTRIB, on the symlink itself (IN_DONT_FOLLOW)
//        6  ino-dir/sub      IN_CLOSE_WRITE | IN_EXCL_UNLINK
//   quiet  blocking, no watch
//
// Before the dump the queue is read empty.  On SIGTERM: fdinfo lists the
// same watches (wd, inode, mask); a file made in ino-dir reports IN_CREATE
// on wd 1 with its name, a write to ino-file IN_MODIFY on wd 4 then
// IN_IGNORED (one-shot), a chmod of the link nothing on wd 5 (the link's own
// inode is watched, chmod follows it); wd 6 can be removed by number, and
// a new watch gets 7, one past the highest kept.
#include "anonlib.h"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <set>

namespace {

struct Event {
  int wd;
  uint32_t mask;
  std::string name;
};

std::vector<Event> read_events(int fd, int wait_ms) {
  std::vector<Event> out;
  if (!rt::readable_within(fd, wait_ms)) return out;
  alignas(inotify_event) char buf[8192];
  ssize_t n = read(fd, buf, sizeof(buf));
  RT_CHECK(n > 0, "read inotify: %s", strerror(errno));
  for (char* p = buf; p < buf + n;) {
    auto* e = reinterpret_cast<inotify_event*>(p);
    out.push_back({e->wd, e->mask, e->len ? std::string(e->name) : std::string()});
    p += sizeof(inotify_event) + e->len;
  }
  return out;
}

int add(int fd, const char* path, uint32_t mask) {
  int wd = inotify_add_watch(fd, path, mask);
  RT_CHECK(wd > 0, "inotify_add_watch %s: %s", path, strerror(errno));
  return wd;
}

void make_file(const char* path) {
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  RT_CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
  close(fd);
}

// The watches as fdinfo shows them, without their order.
std::set<std::string> watches(int fd) {
  std::vector<std::string> v = rt::fdinfo_lines(fd, "inotify wd:");
  return std::set<std::string>(v.begin(), v.end());
}

}  // namespace

int main() {
  rt::block_term();
  mkdir("ino-dir", 0755);
  mkdir("ino-dir/sub", 0755);
  make_file("ino-file");
  make_file("ino-gone-1");
  make_file("ino-gone-2");
  unlink("ino-link");
  RT_CHECK(symlink("ino-file", "ino-link") == 0, "symlink: %s", strerror(errno));
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  int quiet = inotify_init();
  RT_CHECK(in >= 0 && quiet >= 0, "inotify_init: %s", strerror(errno));
  RT_CHECK(add(in, "ino-dir", IN_CREATE | IN_DELETE) == 1, "first watch is not 1");
  int g1 = add(in, "ino-gone-1", IN_OPEN), g2 = add(in, "ino-gone-2", IN_OPEN);
  RT_CHECK(add(in, "ino-file", IN_MODIFY | IN_ONESHOT) == 4, "ino-file's watch is not 4");
  RT_CHECK(add(in, "ino-link", IN_ATTRIB | IN_DONT_FOLLOW) == 5, "ino-link's watch is not 5");
  RT_CHECK(add(in, "ino-dir/sub", IN_CLOSE_WRITE | IN_EXCL_UNLINK) == 6, "ino-dir/sub's watch is not 6");
  inotify_rm_watch(in, g1);
  inotify_rm_watch(in, g2);
  read_events(in, 0);  // the IN_IGNORED of the removed ones
  std::set<std::string> before = watches(in);
  RT_CHECK(before.size() == 4, "%zu watches", before.size());
  rt::ready();
  rt::wait_term();

  std::set<std::string> after = watches(in);
  RT_CHECK(after == before, "the watches changed: %s ... became %s ...", before.begin()->c_str(),
           after.empty() ? "none" : after.begin()->c_str());
  RT_CHECK(rt::nonblocking(in) && !rt::nonblocking(quiet), "flags changed");
  RT_CHECK(watches(quiet).empty(), "quiet has watches");
  RT_CHECK(read_events(in, 0).empty(), "events queued before the check");

  // A new file in ino-dir: unique per run (leave-running and twice run the
  // check more than once on one directory).
  std::string name = "new-" + std::to_string(getpid()) + "-" + std::to_string(long(rt::now_seconds() * 1000));
  make_file(("ino-dir/" + name).c_str());
  std::vector<Event> ev = read_events(in, 5000);
  RT_CHECK(ev.size() == 1 && ev[0].wd == 1 && (ev[0].mask & IN_CREATE) && ev[0].name == name,
           "after a create in ino-dir: %zu events, the first wd %d mask %x name %s", ev.size(),
           ev.empty() ? -1 : ev[0].wd, ev.empty() ? 0 : ev[0].mask, ev.empty() ? "" : ev[0].name.c_str());
  unlink(("ino-dir/" + name).c_str());
  ev = read_events(in, 5000);
  RT_CHECK(ev.size() == 1 && ev[0].wd == 1 && (ev[0].mask & IN_DELETE), "no IN_DELETE on wd 1");

  // ino-file: IN_MODIFY once, then the one-shot watch goes (IN_IGNORED).
  int f = open("ino-file", O_WRONLY | O_APPEND | O_CLOEXEC);
  RT_CHECK(f >= 0 && write(f, "x", 1) == 1 && write(f, "y", 1) == 1, "write ino-file");
  close(f);
  ev = read_events(in, 5000);
  RT_CHECK(ev.size() == 2 && ev[0].wd == 4 && (ev[0].mask & IN_MODIFY) && ev[1].wd == 4 && (ev[1].mask & IN_IGNORED),
           "after writes to ino-file: %zu events, the first wd %d mask %x", ev.size(), ev.empty() ? -1 : ev[0].wd,
           ev.empty() ? 0 : ev[0].mask);

  // wd 5 is on the link itself: a chmod (which follows it) is not its event.
  RT_CHECK(chmod("ino-link", 0600) == 0, "chmod");
  ev = read_events(in, 200);
  RT_CHECK(ev.empty(), "a chmod through ino-link reported wd %d", ev.empty() ? -1 : ev[0].wd);

  RT_CHECK(inotify_rm_watch(in, 6) == 0, "inotify_rm_watch 6: %s", strerror(errno));
  read_events(in, 1000);  // its IN_IGNORED
  make_file("ino-gone-1");
  int next = add(in, "ino-gone-1", IN_OPEN);
  RT_CHECK(next == 7, "a new watch is %d, want 7", next);
  rt::pass();
}
