// epoll: the set and every registration in it, with its events and data
// (fdinfo "tfd: 4 events: 19 data: 4d pos:0 ino:12 sdev:10").
//
// The kernel keys a registration by (file, fd number): the number is the
// one the file had when it was added, and the file may since be closed
// under that number, held by another fd or by another process of the tree
// only.  A registration whose number still holds its file in the process
// is found at dump (find_by_number()); the others
// among every description of the tree once all are known (finish()):
// kcmp(KCMP_EPOLL_TFD), which names a registration by set, number and rank
// among those of the same number, orders files as KCMP_FILE does, so the
// table's binary search finds it.  (Each such kcmp walks the set: a search
// costs log N walks.)  The set then `needs` those files: restore opens them first in
// the same process and adds each under its original number (dup'ed there
// for the call), so that the program's later EPOLL_CTL_MOD and DEL find it.
//
// A one-shot registration that has fired keeps only the flags among its
// events (EPOLLONESHOT, EPOLLET ...) until the program re-arms it, but
// EPOLL_CTL_ADD always adds EPOLLERR and EPOLLHUP.  So restore adds each
// such registration first, for an event its file has now, and takes that
// event with one epoll_wait(), which disarms it exactly as it was.  One
// whose file is ready for nothing comes back armed for EPOLLERR and
// EPOLLHUP, with a warning.
//
// Not kept exactly: the ready list (the kernel polls each file anew on
// EPOLL_CTL_ADD, so an edge-triggered file that is ready reports once
// more).
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/anon_fdinfo.h"
#include "files/module.h"
#include "files/proc_entry.h"

namespace ckpt::files {

namespace {

bool claims(const OpenFd& fd) { return fd.link == "anon_inode:[eventpoll]"; }

std::string target_name(const img::EpollTarget& t) {
  return format("its epoll target fd %u (inode %llu)", t.fd(), (unsigned long long)t.ino());
}

// kcmp's answer as a comparison: <0, 0 (the same file), >0.
int kcmp_order(long r, const img::EpollTarget& t) {
  if (r < 0) throw sys_error(target_name(t) + ": kcmp(KCMP_EPOLL_TFD)");
  if (r > 2) throw Error("kcmp(KCMP_EPOLL_TFD) cannot order file descriptions");
  return r == 0 ? 0 : r == 1 ? -1 : 1;
}

// epoll_ctl(set, op, number) with `file` (an fd of ours) at fd `number`
// for the call, and whatever we had at that number put back: the kernel
// keys a registration by the number as well as the file.  Returns
// epoll_ctl's result, errno kept.
int ctl_under(int set, int op, int file, int number, epoll_event* ev) {
  if (file == number) return epoll_ctl(set, op, number, ev);
  UniqueFd set_copy;  // the set itself may sit at that number
  if (set == number) {
    set_copy.reset(fcntl(set, F_DUPFD_CLOEXEC, 0));
    if (!set_copy) throw sys_error("cannot duplicate an epoll set");
    set = set_copy.get();
  }
  int fd_flags = fcntl(number, F_GETFD);
  UniqueFd saved;
  if (fd_flags >= 0) {
    saved.reset(fcntl(number, F_DUPFD_CLOEXEC, 0));
    if (!saved) throw sys_error(format("cannot move fd %d out of the way", number));
  }
  if (dup3(file, number, O_CLOEXEC) < 0) throw sys_error(format("cannot dup a file to fd %d", number));
  int r = epoll_ctl(set, op, number, ev);
  int err = errno;
  if (saved) {
    if (dup3(saved.get(), number, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
      throw sys_error(format("cannot put fd %d back", number));
  } else {
    close(number);
  }
  errno = err;
  return r;
}

// Whether `file` is registered in `set` under `number`: EPOLL_CTL_ADD of
// that very key fails with EEXIST (a lookup in the set's tree).  If it was
// not, the registration just made is removed at once: the tree is frozen,
// nothing of it sees it (a waiter woken meanwhile finds nothing and sleeps
// on).
bool registered_under(int set, int file, int number) {
  epoll_event ev{};
  if (ctl_under(set, EPOLL_CTL_ADD, file, number, &ev) < 0) return errno == EEXIST;
  ctl_under(set, EPOLL_CTL_DEL, file, number, &ev);
  return false;
}

void add_under(int set, int file, const img::EpollTarget& t) {
  epoll_event ev{};
  ev.events = t.events();
  ev.data.u64 = t.data();
  if (ctl_under(set, EPOLL_CTL_ADD, file, int(t.fd()), &ev) < 0)
    throw sys_error(format("%s: epoll_ctl(EPOLL_CTL_ADD, events %x)", target_name(t).c_str(), t.events()));
}

// The flags of a registration's events, which a fired one-shot keeps (the
// kernel's EP_PRIVATE_BITS).
constexpr uint32_t kEventFlags = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;

bool fired_one_shot(const img::EpollTarget& t) {
  return (t.events() & EPOLLONESHOT) && !(t.events() & ~kEventFlags);
}

// Adds the fired one-shot registrations of `e` to the new, empty `set` and
// disarms them (see the top of this file).
void add_fired_one_shots(int set, const OpenRequest& req, const img::EpollEntry& e) {
  int firing = 0;
  for (const img::EpollTarget& t : e.targets()) {
    if (!fired_one_shot(t)) continue;
    int file = req.fd_of(t.id());
    pollfd p{file, POLLIN | POLLOUT | POLLPRI | POLLRDHUP, 0};
    if (poll(&p, 1, 0) < 0) throw sys_error(target_name(t) + ": poll");
    img::EpollTarget now = t;
    now.set_events(t.events() | (uint32_t(p.revents) & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)));
    add_under(set, file, now);
    if (p.revents) {
      firing++;
    } else {
      LOG_WARN("%s: its one-shot registration (data %llx) had fired and comes back armed for EPOLLERR and "
               "EPOLLHUP: its file is ready for nothing now, so it cannot be disarmed",
               target_name(t).c_str(), (unsigned long long)t.data());
    }
  }
  if (!firing) return;
  std::vector<epoll_event> got(size_t(firing) + 1);
  int n;
  do n = epoll_wait(set, got.data(), int(got.size()), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw sys_error("epoll_wait on the new epoll set");
  if (n != firing)
    LOG_WARN("%d of the %d fired one-shot registrations of an epoll set come back armed for EPOLLERR and EPOLLHUP "
             "(their files were no longer ready)",
             firing - std::max(n, 0), firing);
}

// The common case, found at once: the process still has the registered
// file at the number it was registered under.  The file is taken from the
// process (pidfd_getfd), checked to be registered under that number
// (registered_under(): one lookup, where a kcmp(KCMP_EPOLL_TFD) walks the
// whole set), and added to the table like any description.  False if the
// number holds another file or none.
bool find_by_number(const OpenFd& set, DumpFdContext& ctx, UniqueFd& pidfd, img::EpollTarget& t) {
  if (t.offset() != 0) return false;
  if (!pidfd) pidfd.reset(int(syscall(SYS_pidfd_open, ctx.proc_id, 0)));
  if (!pidfd) return false;
  UniqueFd file(int(syscall(SYS_pidfd_getfd, pidfd.get(), t.fd(), 0)));
  if (!file || !registered_under(set.file.get(), file.get(), int(t.fd()))) return false;
  t.set_id(ctx.table.add_description(describe_fd(ctx.proc_id, int(t.fd()), std::move(file)), ctx));
  return true;
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  img::EpollEntry* e = entry.mutable_epoll();
  e->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  std::map<uint32_t, uint32_t> rank;  // registrations seen so far per fd number
  for (const FdinfoFields& f : fdinfo_objects(fd.info, "tfd")) {
    img::EpollTarget* t = e->add_targets();
    t->set_fd(uint32_t(f.dec("tfd")));
    t->set_events(uint32_t(f.hex("events")));
    t->set_data(f.hex("data"));
    t->set_ino(f.hex("ino"));
    t->set_sdev(uint32_t(f.hex("sdev")));
    // fdinfo lists them in the kernel's order, which is the order
    // KCMP_EPOLL_TFD counts them in.
    t->set_offset(rank[t->fd()]++);
  }
  UniqueFd pidfd;
  for (img::EpollTarget& t : *e->mutable_targets()) find_by_number(fd, ctx, pidfd, t);
}

// How file `known` (ours) compares with the file of registration `t` of
// our duplicate `set`, in KCMP_FILE order.
int compare_target(int known, int set, const img::EpollTarget& t) {
  kcmp_epoll_slot slot{uint32_t(set), t.fd(), t.offset()};
  pid_t self = getpid();
  return kcmp_order(syscall(SYS_kcmp, self, self, KCMP_EPOLL_TFD, known, &slot), t);
}

// The file of each registration of set `id`, made a need of the set.
void find_targets(DumpTreeContext& ctx, uint32_t id) {
  FileTable& table = ctx.table;
  int set = table.description(id);
  img::FileEntry& entry = table.entry(id);
  std::string set_name = table.first_user(id);
  for (img::EpollTarget& t : *entry.mutable_epoll()->mutable_targets()) {
    // The others: closed under their number, held by another fd or another
    // process of the tree.
    uint32_t target = t.has_id() ? t.id() : table.find([&](int known) { return compare_target(known, set, t); });
    if (!target)
      throw Error(format("cannot dump %s: %s is a file no process of the tree holds; not supported yet",
                         set_name.c_str(), target_name(t).c_str()));
    const img::FileEntry& file = table.entry(target);
    if (module_of(file.kind()).open_per_fd)
      throw Error(format("cannot dump %s: %s is a %s (with --shell-job), which restore opens per fd, not for an "
                         "epoll set; not supported yet",
                         set_name.c_str(), target_name(t).c_str(), module_of(file.kind()).name));
    if (tree_process_named(file))
      throw Error(format("cannot dump %s: %s names a process of the tree (a pidfd or /proc entry), which restore "
                         "opens only once the tree exists; not supported yet",
                         set_name.c_str(), target_name(t).c_str()));
    t.set_id(target);
    const auto& needs = entry.needs();
    if (std::find(needs.begin(), needs.end(), target) == needs.end()) entry.add_needs(target);
  }
}

void finish(DumpTreeContext& ctx) {
  uint32_t count = uint32_t(ctx.table.entries().size());
  for (uint32_t id = 1; id <= count; id++)
    if (ctx.table.entry(id).kind() == img::FILE_EPOLL) find_targets(ctx, id);
}

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_epoll()) throw Error("its file entry has no epoll set");
  const auto& needs = entry.needs();
  for (const img::EpollTarget& t : entry.epoll().targets()) {
    if (!t.has_id() || std::find(needs.begin(), needs.end(), t.id()) == needs.end())
      throw Error(target_name(t) + " has no file among the files it needs");
    if (t.fd() > uint32_t(INT32_MAX)) throw Error(target_name(t) + " has a bad fd number");
  }
}

std::vector<UniqueFd> open(const OpenRequest& req) {
  std::vector<UniqueFd> out;
  for (const img::FileEntry* entry : req.group) {
    check(*entry, req.target.opts);
    const img::EpollEntry& e = entry->epoll();
    UniqueFd set(epoll_create1(EPOLL_CLOEXEC));
    if (!set) throw sys_error("epoll_create1");
    // Above every number a target is added under, which add_under() uses.
    uint32_t top = 0;
    for (const img::EpollTarget& t : e.targets()) top = std::max(top, t.fd());
    if (set.get() <= int(top)) {
      UniqueFd moved(fcntl(set.get(), F_DUPFD_CLOEXEC, int(top) + 1));
      if (!moved) throw sys_error(format("cannot move the new epoll set above fd %u", top));
      set = std::move(moved);
    }
    add_fired_one_shots(set.get(), req, e);
    for (const img::EpollTarget& t : e.targets())
      if (!fired_one_shot(t)) add_under(set.get(), req.fd_of(t.id()), t);
    if ((e.flags() & O_NONBLOCK) && fcntl(set.get(), F_SETFL, O_NONBLOCK) < 0)
      throw sys_error("cannot set O_NONBLOCK on the new epoll set");
    out.push_back(std::move(set));
  }
  return out;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_epoll()) return "?";
  std::string out = format("epoll set of %d (flags 0%o):", entry.epoll().targets_size(), entry.epoll().flags());
  int shown = 0;
  for (const img::EpollTarget& t : entry.epoll().targets()) {
    if (++shown > 8) return out + " ...";
    out += format(" fd %u file %u events %x data %llx;", t.fd(), t.id(), t.events(), (unsigned long long)t.data());
  }
  return out;
}

}  // namespace

const FileModule kEpollModule = {
    .kind = img::FILE_EPOLL,
    .name = "epoll",
    .open_per_fd = false,
    .claims = claims,
    .blocker = nullptr,
    .dump = dump,
    .finish = finish,
    .check = check,
    .open = open,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
