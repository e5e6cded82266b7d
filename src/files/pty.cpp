// Pseudo-terminals made inside the tree: the master (/dev/ptmx) and the
// descriptions of its slave (/dev/pts/N), each a FILE_PTY file.
//
// Dump: every master and every pty slave is claimed here, before the
// terminal module; a slave whose master no process of the tree holds (the
// terminal of the shell that started the job) is handed to that module and
// becomes FILE_TTY_STDIO exactly as without this module (--shell-job).
// finish() pairs each slave with its master (the slave `needs` it) and reads
// the terminal's state through the master: termios, window size, packet
// mode, lock, the session it is the controlling terminal of and its
// foreground group, and the data queued both ways, which it reads and puts
// back at once so that a tree left running loses nothing.
//
// Restore: the master is opened anew (/dev/ptmx) and given that state; a
// slave is opened from its master (TIOCGPTPEER), by the process that opens
// it (the lowest common ancestor of its holders, not necessarily the one
// that holds the master).  The new pty has the dumped index if it is free
// (open_ptmx), else another one.
//
// The controlling terminal is set by the session leader (TIOCSCTTY), which
// a process can only do for itself and which a process inherits only at
// fork: so it is done when the session leader opens the slave, before it
// forks the rest of its session; if an ancestor opened the slave for it,
// in installed() instead (the children it forked before do not get it).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "files/module.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

// The line discipline's buffer holds one byte less than this: what TIOCSTI
// can put back synchronously.
constexpr size_t kLdiscRoom = 4095;

constexpr int kKernelLargefile = 0100000;

bool is_master(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2;
}

// The Unix 98 pty slaves: majors 136-143.
bool is_slave(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

uint32_t slave_index(const struct stat& st) {
  return uint32_t((major(st.st_rdev) - 136) * 256 + minor(st.st_rdev));
}

// fdinfo of a /dev/ptmx fd: "tty-index: N".
std::optional<uint32_t> master_index(const proc::Fdinfo& info) {
  for (const auto& [key, value] : info.extra)
    if (key == "tty-index") return uint32_t(strtoul(value.c_str(), nullptr, 10));
  return std::nullopt;
}

// The indexes of the masters the tree holds, from /proc (the pre-flight
// has no duplicates).  Read anew for each slave fd: a cache would have to
// know when the tree is another one, and only slaves need it.
std::set<uint32_t> masters_of_tree(const TreeTasks& tree) {
  std::set<uint32_t> out;
  for (pid_t pid : tree.processes) {
    std::vector<int> fds;
    try {
      fds = proc::list_fds(pid);
    } catch (const Error&) {
      continue;  // a zombie
    }
    for (int n : fds) {
      struct stat st;
      if (stat(proc::path(pid, "fd/" + std::to_string(n)).c_str(), &st) != 0 || !is_master(st)) continue;
      try {
        if (auto index = master_index(describe_fd_from_proc(pid, n).info)) out.insert(*index);
      } catch (const Error&) {
        // closed meanwhile (not in a frozen tree)
      }
    }
  }
  return out;
}

bool master_in_tree(const OpenFd& fd, const DumpFdOptions& opts) {
  return opts.tree && masters_of_tree(*opts.tree).count(slave_index(fd.st));
}

bool claims(const OpenFd& fd) { return is_master(fd.st) || is_slave(fd.st); }

std::string tty_name(uint32_t index) { return format("/dev/pts/%u", index); }

// Why the pty of `index` cannot be given back to the session it is the
// controlling terminal of, or "": restore makes it so with TIOCSCTTY in the
// session leader, on an fd of the slave.  Used by the pre-flight (from
// /proc: tty_nr and session of /proc/PID/stat) and by finish().
std::string ctty_refusal(uint32_t index, pid_t sid, bool leader_in_tree, bool leader_holds) {
  if (leader_in_tree && leader_holds) return "";
  return format("%s, a pty of the tree, is the controlling terminal of session %d, whose leader %s; not supported yet",
                tty_name(index).c_str(), sid, leader_in_tree ? "holds no fd of it" : "is not in the tree");
}

bool holds_slave(pid_t pid, uint32_t index) {
  std::vector<int> fds;
  try {
    fds = proc::list_fds(pid);
  } catch (const Error&) {
    return false;
  }
  for (int n : fds) {
    struct stat st;
    if (stat(proc::path(pid, "fd/" + std::to_string(n)).c_str(), &st) == 0 && is_slave(st) && slave_index(st) == index)
      return true;
  }
  return false;
}

std::string ctty_blocker(uint32_t index, const TreeTasks& tree) {
  for (pid_t pid : tree.processes) {
    std::string stat;
    try {
      stat = proc::read_file(proc::path(pid, "stat"));
    } catch (const Error&) {
      continue;
    }
    size_t close = stat.rfind(')');
    char state;
    int ppid, pgrp, sid;
    unsigned tty_nr;
    if (close == std::string::npos ||
        sscanf(stat.c_str() + close + 1, " %c %d %d %d %u", &state, &ppid, &pgrp, &sid, &tty_nr) != 5)
      continue;
    struct stat tty {};
    tty.st_mode = S_IFCHR;
    tty.st_rdev = dev_t(tty_nr);  // the same encoding as a dev_t's (major and minor split the same way)
    if (tty_nr == 0 || !is_slave(tty) || slave_index(tty) != index) continue;
    std::string why = ctty_refusal(index, sid, tree.processes.count(sid) != 0, holds_slave(sid, index));
    if (!why.empty()) return why;
  }
  return "";
}

std::string blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  if (is_slave(fd.st) && !master_in_tree(fd, opts)) return kTtyStdioModule.blocker(fd, opts);
  if (is_master(fd.st) && opts.tree)
    if (auto index = master_index(fd.info)) return ctty_blocker(*index, *opts.tree);
  return "";
}

void dump(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  if (is_slave(fd.st) && !master_in_tree(fd, ctx.opts)) {
    // The shell's terminal: what it was before ptys were a kind.
    entry.set_kind(img::FILE_TTY_STDIO);
    kTtyStdioModule.dump(fd, ctx, entry);
    return;
  }
  img::PtyEntry* pty = entry.mutable_pty();
  pty->set_master(is_master(fd.st));
  if (pty->master()) {
    int index = -1;
    if (ioctl(fd.file.get(), TIOCGPTN, &index) < 0) throw sys_error("TIOCGPTN of a pty master failed");
    pty->set_index(uint32_t(index));
  } else {
    pty->set_index(slave_index(fd.st));
  }
  pty->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
}

// ---- the terminal's state ------------------------------------------------------

void save_termios(const struct termios& t, img::TermiosEntry& e) {
  e.set_iflag(t.c_iflag);
  e.set_oflag(t.c_oflag);
  e.set_cflag(t.c_cflag);
  e.set_lflag(t.c_lflag);
  e.set_line(t.c_line);
  e.set_cc(std::string(reinterpret_cast<const char*>(t.c_cc), NCCS));
  e.set_ispeed(uint32_t(cfgetispeed(&t)));
  e.set_ospeed(uint32_t(cfgetospeed(&t)));
}

struct termios load_termios(const img::TermiosEntry& e) {
  if (e.cc().size() != NCCS) throw Error(format("its termios has %zu control characters, not %d", e.cc().size(), NCCS));
  struct termios t {};
  t.c_iflag = e.iflag();
  t.c_oflag = e.oflag();
  t.c_cflag = e.cflag();
  t.c_lflag = e.lflag();
  t.c_line = cc_t(e.line());
  memcpy(t.c_cc, e.cc().data(), NCCS);
  cfsetispeed(&t, speed_t(e.ispeed()));
  cfsetospeed(&t, speed_t(e.ospeed()));
  return t;
}

void set_termios(int fd, const struct termios& t) {
  if (tcsetattr(fd, TCSANOW, &t) < 0) throw sys_error("cannot set the terminal's termios");
}

// Puts the termios back however the caller leaves (errors included).
class TermiosGuard {
 public:
  TermiosGuard(int fd, const struct termios& t) : fd_(fd), t_(t) {}
  ~TermiosGuard() { tcsetattr(fd_, TCSANOW, &t_); }
  TermiosGuard(const TermiosGuard&) = delete;
  TermiosGuard& operator=(const TermiosGuard&) = delete;

 private:
  int fd_;
  struct termios t_;
};

// What can be read from `fd` now, without blocking: poll() makes the
// kernel push what is still in flight (the flip buffer) to the reader.
std::string read_pending(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    struct pollfd p {fd, POLLIN, 0};
    int r = poll(&p, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || !(p.revents & POLLIN)) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: the slave closed and nothing is left
    out.append(buf, size_t(n));
  }
  return out;
}

// The slave's input queue, read through a slave description of ours in
// raw mode: leaving canonical mode makes a partial line readable too.
std::string read_input(int slave, const struct termios& t) {
  struct termios raw = t;
  raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  TermiosGuard back(slave, t);
  set_termios(slave, raw);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(slave, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

// Puts `data` back in the slave's input queue as it was: already processed
// once, so with nothing echoed, translated or taken as a signal, erase or
// end of file; lines still end at newlines (canonical mode as it was).
// TIOCSTI hands each byte to the line discipline at once, so the termios
// used is surely this one; what does not fit in its buffer (it had waited
// in the kernel's flip buffer) follows through the master with the
// terminal's own termios, as it would have.
void put_input(int master, int slave, const struct termios& t, const std::string& data) {
  if (data.empty()) return;
  struct termios quiet = t;
  quiet.c_lflag &= ~tcflag_t(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG | IEXTEN);
  quiet.c_iflag &= ~tcflag_t(ICRNL | INLCR | IGNCR | ISTRIP | IUCLC | IXON | IXOFF | PARMRK);
  for (int c : {VERASE, VKILL, VEOF, VWERASE, VREPRINT, VLNEXT, VINTR, VQUIT, VSUSP}) quiet.c_cc[c] = _POSIX_VDISABLE;
  size_t direct = std::min(data.size(), kLdiscRoom);
  {
    TermiosGuard back(slave, t);
    set_termios(slave, quiet);
    for (size_t i = 0; i < direct; i++)
      if (ioctl(slave, TIOCSTI, &data[i]) < 0)
        throw sys_error("cannot put back the terminal's input (TIOCSTI; ckpt needs CAP_SYS_ADMIN)");
  }
  for (size_t at = direct; at < data.size();) {
    ssize_t n = write(master, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error(format("cannot put back %zu bytes of the terminal's input", data.size() - at));
    at += size_t(n);
  }
}

// Puts `data` back for the master to read: written to the slave with no
// output processing (it was processed when first written).  The master's
// own line discipline is raw, so when it takes the bytes does not matter.
void put_output(int slave, const struct termios& t, const std::string& data) {
  if (data.empty()) return;
  struct termios plain = t;
  plain.c_oflag &= ~tcflag_t(OPOST);
  TermiosGuard back(slave, t);
  set_termios(slave, plain);
  for (size_t at = 0; at < data.size();) {
    ssize_t n = write(slave, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error(format("cannot put back %zu bytes of the terminal's output", data.size() - at));
    at += size_t(n);
  }
}

// A slave description of our own, opened from the master; a locked master
// is unlocked for the time of the open.
UniqueFd open_peer(int master, int flags, bool locked) {
  int zero = 0, one = 1;
  if (locked && ioctl(master, TIOCSPTLCK, &zero) < 0) throw sys_error("cannot unlock the pty");
  // Without O_CLOEXEC, which would stay in the file's flags (fdinfo shows
  // it for every fd of it).
  UniqueFd slave(ioctl(master, TIOCGPTPEER, flags | O_NOCTTY));
  int err = errno;
  if (locked) ioctl(master, TIOCSPTLCK, &one);
  if (!slave) throw sys_error("cannot open the pty's slave (TIOCGPTPEER)", err);
  if (fcntl(slave.get(), F_SETFD, FD_CLOEXEC) < 0) throw sys_error("cannot set FD_CLOEXEC");
  return slave;
}

// The master's packet mode off while ckpt reads it (a read would begin with
// a status byte), back on afterwards.
class PacketModeOff {
 public:
  PacketModeOff(int master, bool on) : master_(master), on_(on) {
    int zero = 0;
    if (on_) ioctl(master_, TIOCPKT, &zero);
  }
  ~PacketModeOff() {
    int one = 1;
    if (on_) ioctl(master_, TIOCPKT, &one);
  }
  PacketModeOff(const PacketModeOff&) = delete;
  PacketModeOff& operator=(const PacketModeOff&) = delete;

 private:
  int master_;
  bool on_;
};

// Reads the state of the terminal of `master` (our duplicate) into `pty`.
// `slave_open`: a process of the tree holds a slave, so that a slave of our
// own is not the last one and closing it changes nothing.
void dump_terminal(int master, bool slave_open, img::PtyEntry& pty) {
  struct termios t;
  if (tcgetattr(master, &t) < 0) throw sys_error("cannot read the pty's termios");
  save_termios(t, *pty.mutable_termios());
  struct winsize ws {};
  if (ioctl(master, TIOCGWINSZ, &ws) < 0) throw sys_error("cannot read the pty's window size");
  pty.set_rows(ws.ws_row);
  pty.set_cols(ws.ws_col);
  pty.set_xpixel(ws.ws_xpixel);
  pty.set_ypixel(ws.ws_ypixel);
  int pkt = 0, locked = 0;
  if (ioctl(master, TIOCGPKT, &pkt) < 0) throw sys_error("cannot read the pty's packet mode");
  if (ioctl(master, TIOCGPTLCK, &locked) < 0) throw sys_error("cannot read the pty's lock");
  pty.set_packet_mode(pkt != 0);
  pty.set_locked(locked != 0);
  // A master's TIOCGSID and TIOCGPGRP tell the slave's session and group.
  pid_t sid = 0, pgrp = 0;
  if (ioctl(master, TIOCGSID, &sid) == 0 && sid > 0) {
    pty.set_session(uint32_t(sid));
    if (ioctl(master, TIOCGPGRP, &pgrp) == 0 && pgrp > 0) pty.set_foreground(uint32_t(pgrp));
  }

  std::string output;
  {
    PacketModeOff plain(master, pkt != 0);
    output = read_pending(master);
  }
  if (!slave_open && output.empty()) return;  // nothing queued can be read without a slave
  UniqueFd slave = open_peer(master, O_RDWR | O_NONBLOCK, locked != 0);
  int excl = 0;
  if (ioctl(slave.get(), TIOCGEXCL, &excl) == 0) pty.set_exclusive(excl != 0);
  std::string input = read_input(slave.get(), t);
  // Back at once, whether the tree is left running or not.
  put_input(master, slave.get(), t, input);
  put_output(slave.get(), t, output);
  pty.set_input(input);
  pty.set_output(output);
}

void finish(DumpTreeContext& ctx) {
  std::map<uint32_t, uint32_t> master_of;          // index -> file id
  std::map<uint32_t, std::vector<uint32_t>> slaves_of;
  for (const img::FileEntry& e : ctx.table.entries()) {
    if (e.kind() != img::FILE_PTY) continue;
    if (!e.pty().master()) {
      slaves_of[e.pty().index()].push_back(e.id());
    } else if (!master_of.emplace(e.pty().index(), e.id()).second) {
      throw Error(format("cannot dump %s: two ptys of index %u (of two devpts instances) are not supported yet",
                         ctx.table.first_user(e.id()).c_str(), e.pty().index()));
    }
  }
  for (const auto& [index, master] : master_of) {
    const std::vector<uint32_t>& slaves = slaves_of[index];
    img::PtyEntry& pty = *ctx.table.entry(master).mutable_pty();
    try {
      dump_terminal(ctx.table.description(master), !slaves.empty(), pty);
    } catch (const Error& e) {
      throw Error(format("cannot dump %s: the pty master of %s: %s", ctx.table.first_user(master).c_str(),
                         tty_name(index).c_str(), e.what()));
    }
    // The pre-flight has refused this already, from /proc; here from the
    // kernel's own word (TIOCGSID).
    if (pty.session()) {
      pid_t sid = pid_t(pty.session());
      bool leader_holds = std::any_of(slaves.begin(), slaves.end(),
                                      [&](uint32_t s) { return ctx.table.users(s).count(sid) != 0; });
      bool in_tree = ctx.opts.tree && ctx.opts.tree->processes.count(sid);
      if (std::string why = ctty_refusal(index, sid, in_tree, leader_holds); !why.empty())
        throw Error(format("cannot dump %s: %s", ctx.table.first_user(master).c_str(), why.c_str()));
    }
    for (uint32_t s : slaves) {
      img::FileEntry& slave = ctx.table.entry(s);
      slave.add_needs(master);
      img::PtyEntry& sp = *slave.mutable_pty();
      sp.set_locked(pty.locked());
      sp.set_exclusive(pty.exclusive());
      if (pty.session()) sp.set_session(pty.session());
      if (pty.foreground()) sp.set_foreground(pty.foreground());
    }
  }
  for (const auto& [index, slaves] : slaves_of)
    if (!master_of.count(index))
      throw Error(format("cannot dump %s: the master of %s, held in the tree at the pre-flight, was not found",
                         ctx.table.first_user(slaves.front()).c_str(), tty_name(index).c_str()));
}

// ---- restore ------------------------------------------------------------------

void check(const img::FileEntry& entry, const RestoreFdOptions&) {
  if (!entry.has_pty()) throw Error("its file entry has no pty");
  const img::PtyEntry& pty = entry.pty();
  if (pty.master() && !pty.has_termios()) throw Error("its pty master has no termios");
  if (pty.master()) load_termios(pty.termios());
  if (!pty.master() && entry.needs_size() != 1) throw Error("its pty slave does not name its master");
}

// The flags a pty is opened with: open() adds O_LARGEFILE, TIOCGPTPEER
// only if asked (glibc's O_LARGEFILE is 0 on 64-bit systems: the kernel's
// value), so it is kept as it was.
int open_flags(uint32_t flags) { return int(flags & uint32_t(O_ACCMODE | O_NONBLOCK | kKernelLargefile)); }

// How many ptys ckpt holds at most while it looks for the dumped index.
constexpr size_t kMaxPtysHeld = 4096;

int pty_index(int master) {
  int index = -1;
  if (ioctl(master, TIOCGPTN, &index) < 0) throw sys_error("TIOCGPTN of a new pty failed");
  return index;
}

// A new master, with the dumped index if it is free: devpts gives the
// lowest free index, so ckpt takes new ptys, holding those below it, until
// it gets that one or one above it (then it is taken: the pty gets another
// index, and its slave another /dev/pts/N).
UniqueFd open_ptmx(const img::PtyEntry& pty) {
  std::vector<UniqueFd> below;
  for (;;) {
    UniqueFd master(::open("/dev/ptmx", open_flags(pty.flags()) | O_NOCTTY | O_CLOEXEC));
    if (!master) throw sys_error("cannot open /dev/ptmx");
    int index = pty_index(master.get());
    if (index >= int(pty.index()) || below.size() >= kMaxPtysHeld) {
      if (index != int(pty.index()))
        LOG_INFO("the pty %s is restored as /dev/pts/%d (its index is taken)", tty_name(pty.index()).c_str(), index);
      return master;
    }
    below.push_back(std::move(master));
  }
}

UniqueFd open_master(const img::PtyEntry& pty) {
  UniqueFd master = open_ptmx(pty);
  int zero = 0, one = 1;
  if (ioctl(master.get(), TIOCSPTLCK, &zero) < 0) throw sys_error("cannot unlock the new pty");
  struct termios t = load_termios(pty.termios());
  set_termios(master.get(), t);
  struct winsize ws {};
  ws.ws_row = uint16_t(pty.rows());
  ws.ws_col = uint16_t(pty.cols());
  ws.ws_xpixel = uint16_t(pty.xpixel());
  ws.ws_ypixel = uint16_t(pty.ypixel());
  if (ioctl(master.get(), TIOCSWINSZ, &ws) < 0) throw sys_error("cannot set the pty's window size");
  if (!pty.input().empty() || !pty.output().empty()) {
    UniqueFd slave = open_peer(master.get(), O_RDWR | O_NONBLOCK, false);
    put_input(master.get(), slave.get(), t, pty.input());
    put_output(slave.get(), t, pty.output());
  }
  if (pty.packet_mode() && ioctl(master.get(), TIOCPKT, &one) < 0) throw sys_error("cannot set packet mode");
  if (pty.locked() && ioctl(master.get(), TIOCSPTLCK, &one) < 0) throw sys_error("cannot lock the pty");
  return master;
}

// Whether the slave `fd` is the controlling terminal of this process (a
// slave's TIOCGSID answers only then).
bool is_my_ctty(int fd) {
  pid_t sid;
  return ioctl(fd, TIOCGSID, &sid) == 0;
}

UniqueFd open_slave(const img::FileEntry& entry, const OpenRequest& req) {
  const img::PtyEntry& pty = entry.pty();
  UniqueFd slave = open_peer(req.fd_of(entry.needs(0)), open_flags(pty.flags()), pty.locked());
  if (pty.exclusive() && ioctl(slave.get(), TIOCEXCL) < 0) throw sys_error("cannot make the pty exclusive");
  // The session leader opening it itself: before it forks its session.
  pid_t self = getpid();
  if (pty.session() == uint32_t(self) && getsid(0) == self && !is_my_ctty(slave.get()) &&
      ioctl(slave.get(), TIOCSCTTY, 0) < 0)
    throw sys_error(format("cannot make the pty the controlling terminal of session %d", self));
  return slave;
}

std::vector<UniqueFd> open_pty(const OpenRequest& req) {
  std::vector<UniqueFd> out;
  for (const img::FileEntry* e : req.group) {
    check(*e, req.target.opts);
    out.push_back(e->pty().master() ? open_master(e->pty()) : open_slave(*e, req));
  }
  return out;
}

// With SIGTTOU blocked: tcsetpgrp() from a background group would stop us.
bool set_foreground(int fd, pid_t pgrp) {
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  bool ok = tcsetpgrp(fd, pgrp) == 0;
  int err = errno;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return ok;
}

// Per process, its fds in place: the session leader takes the terminal if
// it did not when it opened it; the foreground group is set by the leader
// or by a member of that group (whichever comes when both the terminal and
// the group exist: the group may be made after the leader is done).
void installed(const img::FileEntry& entry, int fd, const RestoreTarget& target) {
  if (!entry.has_pty() || entry.pty().master() || !entry.pty().session()) return;
  const img::PtyEntry& pty = entry.pty();
  pid_t self = getpid();
  if (pty.session() == uint32_t(self) && !is_my_ctty(fd)) {
    if (ioctl(fd, TIOCSCTTY, 0) < 0)
      throw sys_error(format("cannot make the pty the controlling terminal of session %d", self));
    LOG_INFO("pid %d: the pty of fd %d is its controlling terminal again; the children it forked before do not "
             "have it (an ancestor opened it)",
             target.pid, fd);
  }
  pid_t fg = pid_t(pty.foreground());
  if (!fg || !is_my_ctty(fd) || (pty.session() != uint32_t(self) && getpgrp() != fg)) return;
  if (!set_foreground(fd, fg))
    LOG_DEBUG("pid %d: foreground group %d of its terminal not set yet: %s", target.pid, fg, strerror(errno));
}

std::string describe(const img::FileEntry& entry) {
  if (entry.has_tty()) return kTtyStdioModule.describe(entry);
  if (!entry.has_pty()) return "?";
  const img::PtyEntry& pty = entry.pty();
  std::string s = format("pty %s of %s (flags 0%o)", pty.master() ? "master" : "slave", tty_name(pty.index()).c_str(),
                         pty.flags());
  if (pty.master())
    s += format(", %ux%u, %zu bytes in, %zu out", pty.cols(), pty.rows(), pty.input().size(), pty.output().size());
  if (pty.session()) s += format(", terminal of session %u", pty.session());
  return s;
}

}  // namespace

const FileModule kPtyModule = {
    .kind = img::FILE_PTY,
    .name = "pty",
    .open_per_fd = false,
    .claims = claims,
    .blocker = blocker,
    .dump = dump,
    .finish = finish,
    .check = check,
    .open = open_pty,
    .installed = installed,
    .describe = describe,
};

}  // namespace ckpt::files
