// Pipes (FILE_PIPE) and named pipes (FILE_FIFO): each end is one file
// description, and the ends of one pipe found anywhere in the tree are one
// group, made together at restore.
//
// Dump: each end records its flags and the pipe's size; the bytes sitting
// in the pipe are copied, without being consumed, by tee() from a readable
// end into a pipe of ours (so --leave-running leaves the pipe as it was),
// once per pipe.  finish() groups the ends by inode.
//
// Restore: one pipe2() (a FIFO: its path opened O_RDWR first, which never
// blocks, then each end by path), the size set, the bytes written back,
// then each end flagged as it was.  This happens in open(), before any
// process of the tree exists, so nothing can read the pipe first.  An end
// whose pipe has no other end in the tree gets a pipe whose other end is
// closed, as it was: a lone read end reads the saved bytes, then EOF.
//
// An end another process outside the tree also holds cannot be restored
// (that process would keep the old pipe): the pre-flight refuses it, naming
// the options that hand it over (--external at dump, --inherit-fd at
// restore, external.cpp).
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <tuple>

#include "ckpt/error.h"
#include "files/identity.h"
#include "files/module.h"
#include "proc/read.h"

namespace ckpt::files {

namespace {

// Flags an end keeps after open: the access mode and O_NONBLOCK.  Others
// acted at open time only (O_CREAT on a FIFO's path) or are refused.
constexpr uint32_t kKeptFlags = O_ACCMODE | O_NONBLOCK;
// Packet mode is fixed at pipe2() for both ends and cannot be given to an
// end reopened by path; O_ASYNC needs the owner (F_SETOWN) too.
constexpr uint32_t kRefusedFlags = O_DIRECT | O_ASYNC;
// The size a new pipe has.
constexpr uint32_t kDefaultSize = 65536;
// More than any pipe can hold: a corrupted image.
constexpr uint32_t kMaxSize = 1u << 31;

bool is_anonymous(const OpenFd& fd) { return S_ISFIFO(fd.st.st_mode) && fd.link.starts_with("pipe:"); }
bool is_named(const OpenFd& fd) { return S_ISFIFO(fd.st.st_mode) && fd.link.starts_with("/"); }

bool can_read(uint32_t flags) { return (flags & O_ACCMODE) != O_WRONLY; }

std::string end_name(uint32_t flags) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY: return "read end";
    case O_WRONLY: return "write end";
  }
  return "read-write end";
}

// The first process outside the tree with an fd on the same pipe as `fd`,
// as "pid 12 (fd 3)", or "".  Scanning every /proc/PID/fd is the one
// reliable way: poll() tells a read end whether any writer is left, but
// not whether it is in the tree, and a write end learns nothing (POLLERR
// only once every reader is gone).  The scan misses holders /proc does not
// show (an fd in flight in a unix socket outside the tree, a process of
// another PID namespace, a FIFO opened through another path); it costs one readlink per fd of the machine for
// each end, which the pre-flight pays once.
struct CloseDir {
  void operator()(DIR* d) const { closedir(d); }
};
using Dir = std::unique_ptr<DIR, CloseDir>;

std::string holder_outside(const OpenFd& fd, const TreeTasks& tree) {
  Dir proc(opendir("/proc"));
  if (!proc) throw sys_error("cannot list /proc");
  while (dirent* d = readdir(proc.get())) {
    char* end;
    long pid = strtol(d->d_name, &end, 10);
    if (*end || pid <= 0 || tree.processes.count(pid_t(pid)) || tree.threads.count(pid_t(pid))) continue;
    Dir fds(opendir(("/proc/" + std::to_string(pid) + "/fd").c_str()));
    if (!fds) continue;  // gone, or a kernel thread
    while (dirent* f = readdir(fds.get())) {
      if (f->d_name[0] == '.') continue;
      char link[4096];
      ssize_t n = readlinkat(dirfd(fds.get()), f->d_name, link, sizeof link);
      if (n <= 0 || std::string(link, size_t(n)) != fd.link) continue;
      // A FIFO's path may name another file now: compare the inodes.
      struct stat st;
      if (fstatat(dirfd(fds.get()), f->d_name, &st, 0) < 0 || st.st_dev != fd.st.st_dev || st.st_ino != fd.st.st_ino)
        continue;
      return format("pid %ld (fd %s)", pid, f->d_name);
    }
  }
  return "";
}

std::string blocker(const OpenFd& fd, const DumpFdOptions& opts) {
  uint32_t flags = fd.info.flags;
  if (flags & O_DIRECT) return format("%s is a pipe in packet mode (O_DIRECT), not supported yet", fd.link.c_str());
  if (flags & O_ASYNC) return format("%s has O_ASYNC set, not supported yet", fd.link.c_str());
  // Without the tree (unit tests) every process would count as outside.
  if (!opts.tree) return "";
  std::string holder = holder_outside(fd, *opts.tree);
  if (holder.empty()) return "";
  return format("its %s of %s is connected to %s, outside the tree: dump with --external %s and restore with "
                "--inherit-fd fd[N]:%s (N: an fd of ckpt restore on the end that stands in for it)",
                end_name(flags).c_str(), fd.link.c_str(), holder.c_str(), fd.link.c_str(), fd.link.c_str());
}

int pipe_size(int fd) {
  int size = fcntl(fd, F_GETPIPE_SZ);
  if (size < 0) throw sys_error("F_GETPIPE_SZ");
  return size;
}

// The bytes in the pipe `readable` reads from, left in place: tee() links
// its buffers into a pipe of ours of the same size (so every buffer fits in
// one call), from which we read them.
std::string peek(int readable, uint32_t size) {
  int queued = 0;
  if (ioctl(readable, FIONREAD, &queued) < 0) throw sys_error("FIONREAD on the pipe");
  if (queued <= 0) return {};
  int ours[2];
  if (pipe2(ours, O_CLOEXEC | O_NONBLOCK) < 0) throw sys_error("cannot make a pipe to copy the pipe's data");
  UniqueFd r(ours[0]), w(ours[1]);
  if (size > kDefaultSize && fcntl(w.get(), F_SETPIPE_SZ, size) < 0)
    throw sys_error(format("cannot make a pipe of %u bytes to copy the pipe's data into", size));
  ssize_t n = tee(readable, w.get(), size_t(queued), SPLICE_F_NONBLOCK);
  if (n < 0) throw sys_error("tee() of the pipe's data");
  if (n != queued)
    throw Error(format("tee() copied %zd of the %d bytes in the pipe", n, queued));
  std::string data(size_t(queued), '\0');
  for (size_t got = 0; got < data.size();) {
    ssize_t k = read(r.get(), data.data() + got, data.size() - got);
    if (k <= 0) throw sys_error("cannot read the copy of the pipe's data");
    got += size_t(k);
  }
  return data;
}

// Whether the data of this pipe is saved already, with an entry of an
// earlier end (same kind, same inode).
bool data_saved(const FileTable& table, img::FileKind kind, const struct stat& st) {
  for (const img::FileEntry& e : table.entries())
    if (e.kind() == kind && e.has_pipe() && e.pipe().ino() == st.st_ino && e.pipe().has_data() &&
        (!e.has_reg() || e.reg().identity().dev() == st.st_dev))
      return true;
  return false;
}

// A descriptor that can read the pipe of `fd`: `fd` itself, or, for a
// FIFO's write end (whose data a reader may still open the path for), a
// new read end opened through /proc.  Empty for an anonymous write end: if
// a read end is in the tree its dump saves the data, and if none is, no one
// can ever read it.
// (FIONREAD works on any end: a FIFO with nothing in it gets no new reader,
// whose open would also wake a process of the tree blocked opening the
// FIFO for writing.)
UniqueFd reader_of(const OpenFd& fd, bool named) {
  if (can_read(fd.info.flags)) return UniqueFd(fcntl(fd.file.get(), F_DUPFD_CLOEXEC, 0));
  int queued = 0;
  if (!named || ioctl(fd.file.get(), FIONREAD, &queued) < 0 || queued == 0) return {};
  std::string self = "/proc/self/fd/" + std::to_string(fd.file.get());
  UniqueFd r(::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!r) throw sys_error("cannot open a read end of " + fd.link + " to copy its data");
  return r;
}

void dump_end(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry, bool named) {
  if (fd.info.flags & kRefusedFlags) throw Error(blocker(fd, {}));
  img::PipeEntry* p = entry.mutable_pipe();
  p->set_ino(fd.st.st_ino);
  p->set_flags(fd.info.flags & kKeptFlags);
  uint32_t size = uint32_t(pipe_size(fd.file.get()));
  p->set_size(size);
  if (data_saved(ctx.table, entry.kind(), fd.st)) return;
  if (UniqueFd r = reader_of(fd, named)) {
    std::string data = peek(r.get(), size);
    if (!data.empty()) p->set_data(std::move(data));
  }
}

void dump_pipe(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) { dump_end(fd, ctx, entry, false); }

void dump_fifo(const OpenFd& fd, DumpFdContext& ctx, img::FileEntry& entry) {
  if (is_deleted(fd)) throw Error("the FIFO " + fd.link + " was deleted; deleted FIFOs are not supported yet");
  struct stat by_path;
  if (stat(fd.link.c_str(), &by_path) < 0) throw sys_error("cannot stat the FIFO's path " + fd.link);
  if (by_path.st_dev != fd.st.st_dev || by_path.st_ino != fd.st.st_ino)
    throw Error("the FIFO's path " + fd.link + " now names another file");
  img::RegFileEntry* reg = entry.mutable_reg();
  *reg->mutable_identity() = make_identity(fd.link, fd.st);
  reg->set_flags(fd.info.flags & ~uint32_t(O_CLOEXEC));
  reg->set_pos(0);
  reg->set_mode(fd.st.st_mode);
  dump_end(fd, ctx, entry, true);
}

// The ends of one pipe, found by inode, become one group: its id is that
// of the first end seen.  (Two FIFOs on different filesystems may share an
// inode number: the device is part of the key.)
void finish(DumpTreeContext& ctx) {
  std::map<std::tuple<int, uint64_t, uint64_t>, std::vector<uint32_t>> ends;
  for (const img::FileEntry& e : ctx.table.entries()) {
    if ((e.kind() != img::FILE_PIPE && e.kind() != img::FILE_FIFO) || !e.has_pipe()) continue;
    uint64_t dev = e.has_reg() ? e.reg().identity().dev() : 0;
    ends[{int(e.kind()), dev, e.pipe().ino()}].push_back(e.id());
  }
  for (const auto& [key, ids] : ends) {
    if (ids.size() < 2) continue;
    for (uint32_t id : ids) ctx.table.entry(id).set_group(ids.front());
  }
}

// ---- restore ----------------------------------------------------------------

void check_entry(const img::FileEntry& entry) {
  if (!entry.has_pipe()) throw Error("its file entry has no pipe");
  const img::PipeEntry& p = entry.pipe();
  if (p.size() == 0 || p.size() > kMaxSize) throw Error(format("its pipe size of %u bytes is not possible", p.size()));
  if (p.data().size() > p.size())
    throw Error(format("its pipe holds %zu bytes, more than its size of %u", p.data().size(), p.size()));
  if (p.flags() & ~kKeptFlags || (p.flags() & O_ACCMODE) == O_ACCMODE)
    throw Error(format("its pipe end has flags 0%o, which ckpt does not write", p.flags()));
}

// Whether a pipe of `size` bytes can be made here: above
// /proc/sys/fs/pipe-max-size only with CAP_SYS_RESOURCE, which trying tells.
void check_size(uint32_t size) {
  if (size <= kDefaultSize) return;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw sys_error("cannot make a pipe");
  UniqueFd r(fds[0]), w(fds[1]);
  if (fcntl(w.get(), F_SETPIPE_SZ, size) < 0)
    throw sys_error(format("cannot make a pipe of %u bytes (its size at dump; /proc/sys/fs/pipe-max-size is %s "
                           "without CAP_SYS_RESOURCE)",
                           size, proc::read_file("/proc/sys/fs/pipe-max-size").c_str()));
}

void check_pipe(const img::FileEntry& entry, const RestoreFdOptions&) {
  check_entry(entry);
  check_size(entry.pipe().size());
}

void check_fifo(const img::FileEntry& entry, const RestoreFdOptions& opts) {
  check_entry(entry);
  if (!entry.has_reg()) throw Error("its file entry has no path");
  struct stat st = stat_same_file(entry.reg().identity(), opts.root);
  if (!S_ISFIFO(st.st_mode)) throw Error(opts.root.host(entry.reg().identity().path()) + " is no longer a FIFO");
  check_size(entry.pipe().size());
}

// What the group's ends share: the size (the largest recorded, which every
// end should agree on) and the data (on one end at most).
struct PipeState {
  uint32_t size = 0;
  const std::string* data = nullptr;
};

PipeState state_of(const std::vector<const img::FileEntry*>& group) {
  PipeState s;
  for (const img::FileEntry* e : group) {
    check_entry(*e);
    s.size = std::max(s.size, e->pipe().size());
    if (e->pipe().has_data() && !e->pipe().data().empty()) {
      if (s.data) throw Error(format("two ends of one pipe (file %u among them) both hold its data", e->id()));
      s.data = &e->pipe().data();
    }
  }
  return s;
}

// Sets the size and writes the data through `writer`, a blocking or not
// descriptor: the data fits the size, and a pipe packs one write densely.
void fill(int writer, const PipeState& s) {
  if (fcntl(writer, F_SETPIPE_SZ, s.size) < 0) throw sys_error(format("cannot give the pipe its size of %u bytes", s.size));
  if (!s.data) return;
  const std::string& data = *s.data;
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(writer, data.data() + done, data.size() - done);
    if (n <= 0) throw sys_error(format("cannot write back the %zu bytes of the pipe", data.size()));
    done += size_t(n);
  }
}

// The end's own flags on a descriptor that has its access mode already.
void set_flags(int fd, uint32_t flags) {
  int now = fcntl(fd, F_GETFL);
  if (now < 0 || fcntl(fd, F_SETFL, (now & ~O_NONBLOCK) | int(flags & O_NONBLOCK)) < 0)
    throw sys_error("cannot set the flags of a pipe end");
}

// A new description of the pipe `fd` is on, with `flags`: open() of our
// /proc/self/fd link, which never blocks while the pipe has a reader and a
// writer (ours).
UniqueFd reopen(int fd, uint32_t flags) {
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  UniqueFd out(::open(self.c_str(), int(flags & kKeptFlags) | O_CLOEXEC));
  if (!out) throw sys_error("cannot open another end of the new pipe");
  return out;
}

std::vector<UniqueFd> open_pipe(const OpenRequest& req) {
  PipeState s = state_of(req.group);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw sys_error("pipe2");
  UniqueFd r(fds[0]), w(fds[1]);
  fill(w.get(), s);
  // The first read end and the first write end are pipe2()'s own; more
  // descriptions of the same pipe (opened through /proc at dump time, or
  // O_RDWR ones) are opened again the same way.  Ends the tree had not
  // are closed when r and w go.
  std::vector<UniqueFd> out;
  bool r_used = false, w_used = false;
  for (const img::FileEntry* e : req.group) {
    uint32_t flags = e->pipe().flags();
    UniqueFd end;
    if ((flags & O_ACCMODE) == O_RDONLY && !r_used) {
      end = UniqueFd(fcntl(r.get(), F_DUPFD_CLOEXEC, 0));
      r_used = true;
    } else if ((flags & O_ACCMODE) == O_WRONLY && !w_used) {
      end = UniqueFd(fcntl(w.get(), F_DUPFD_CLOEXEC, 0));
      w_used = true;
    } else {
      end = reopen(r.get(), flags);
    }
    if (!end) throw sys_error("cannot duplicate an end of the new pipe");
    set_flags(end.get(), flags);
    out.push_back(std::move(end));
  }
  return out;
}

std::vector<UniqueFd> open_fifo(const OpenRequest& req) {
  PipeState s = state_of(req.group);
  const img::FileEntry& first = *req.group.front();
  if (!first.has_reg()) throw Error("its file entry has no path");
  const img::FileIdentity& id = first.reg().identity();
  const std::string path = req.target.opts.root.host(id.path());
  // O_RDWR on a FIFO never waits for a partner, and while it is open
  // neither a read nor a write open of the path does.
  UniqueFd helper(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!helper) throw sys_error("cannot open the FIFO " + path);
  struct stat st;
  if (fstat(helper.get(), &st) < 0) throw sys_error("cannot stat " + path);
  std::string why = identity_mismatch(id, st);
  if (!why.empty()) throw Error(path + ": " + why);
  if (!S_ISFIFO(st.st_mode)) throw Error(path + " is no longer a FIFO");
  int queued = 0;
  if (ioctl(helper.get(), FIONREAD, &queued) == 0 && queued > 0)
    throw Error(format("the FIFO %s already holds %d bytes: another process has it open", path.c_str(), queued));
  fill(helper.get(), s);
  std::vector<UniqueFd> out;
  for (const img::FileEntry* e : req.group) {
    if (!e->has_reg() || e->reg().identity().path() != id.path() || e->reg().identity().ino() != id.ino())
      throw Error(format("file %u is not an end of the FIFO %s", e->id(), path.c_str()));
    UniqueFd end(::open(path.c_str(), int(e->pipe().flags()) | O_CLOEXEC));
    if (!end) throw sys_error("cannot open the FIFO " + path);
    struct stat now;
    if (fstat(end.get(), &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
      throw Error(path + " changed while its ends were opened");
    out.push_back(std::move(end));
  }
  return out;
}

std::string describe(const img::FileEntry& entry) {
  if (!entry.has_pipe()) return "?";
  const img::PipeEntry& p = entry.pipe();
  std::string what = entry.has_reg() ? entry.reg().identity().path() : format("pipe:[%llu]", (unsigned long long)p.ino());
  return format("%s, %s (flags 0%o, size %u, %zu bytes queued)", what.c_str(), end_name(p.flags()).c_str(), p.flags(),
                p.size(), p.data().size());
}

}  // namespace

const FileModule kPipeModule = {
    .kind = img::FILE_PIPE,
    .name = "pipe",
    .open_per_fd = false,
    .claims = is_anonymous,
    .blocker = blocker,
    .dump = dump_pipe,
    .finish = finish,
    .check = check_pipe,
    .open = open_pipe,
    .installed = nullptr,
    .describe = describe,
};

// finish() above groups FIFO ends too: this module has none of its own.
const FileModule kFifoModule = {
    .kind = img::FILE_FIFO,
    .name = "FIFO",
    .open_per_fd = false,
    .claims = is_named,
    .blocker = blocker,
    .dump = dump_fifo,
    .finish = nullptr,
    .check = check_fifo,
    .open = open_fifo,
    .installed = nullptr,
    .describe = describe,
};

}  // namespace ckpt::files
