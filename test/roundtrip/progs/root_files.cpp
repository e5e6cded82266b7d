// Files under restore --root PATH (kinds/root.cmake, root.sh): a regular
// file open with data and an offset, a file mapped, a FIFO with data queued,
// a listening unix socket bound to an absolute path (a connection accepted
// with data queued, one still pending), a deleted file held open, an
// inotify watch on watched/target, and a working directory of its own.  Run
// in the work dir, which holds files/, watched/ and fresh/ (root.sh mounts a tmpfs over fresh/ under PATH only, so the
// socket and the deleted file are found at PATH + path or nowhere).  After
// the restore, in PATH's tree (its root), every one must still work: the
// socket keeps its name and takes new clients by that name.
#include "unixlib.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <string>

namespace {

constexpr size_t kMapped = 8192;

int make_file(const std::string& path, const std::string& content, int flags) {
  int fd = open(path.c_str(), flags | O_CREAT | O_TRUNC, 0640);
  RT_CHECK(fd >= 0, "open %s: %s", path.c_str(), strerror(errno));
  RT_CHECK(write(fd, content.data(), content.size()) == ssize_t(content.size()), "write %s", path.c_str());
  return fd;
}

std::string read_n(int fd, size_t n) {
  std::string out(n, '\0');
  ssize_t got = read(fd, out.data(), n);
  return got > 0 ? out.substr(0, size_t(got)) : std::string();
}

}  // namespace

int main() {
  char base_c[PATH_MAX];
  RT_CHECK(getcwd(base_c, sizeof base_c), "getcwd");
  const std::string base = base_c;

  int reg = make_file(base + "/files/data.txt", "0123456789abcdef", O_RDWR);
  RT_CHECK(lseek(reg, 6, SEEK_SET) == 6, "seek");

  std::string pattern = ux::pattern(kMapped, 7);
  int m = make_file(base + "/files/mapped.bin", pattern, O_RDWR);
  auto* mapped = static_cast<const char*>(mmap(nullptr, kMapped, PROT_READ, MAP_SHARED, m, 0));
  RT_CHECK(mapped != MAP_FAILED, "mmap");
  close(m);

  std::string fifo_path = base + "/files/fifo";
  unlink(fifo_path.c_str());
  RT_CHECK(mkfifo(fifo_path.c_str(), 0600) == 0, "mkfifo");
  int fifo = open(fifo_path.c_str(), O_RDWR | O_NONBLOCK);
  RT_CHECK(fifo >= 0, "open the FIFO");
  RT_CHECK(write(fifo, "through-the-fifo", 16) == 16, "write the FIFO");

  // An absolute name: the kernel keeps it as given, and so must the restore.
  std::string sock = base + "/fresh/sock";
  unlink(sock.c_str());
  int listener = ux::bound(SOCK_STREAM, sock);
  RT_CHECK(listen(listener, 4) == 0, "listen");
  int client = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(client, sock);
  int served = ux::accept_within(listener);
  ux::send_all(client, "request");
  int pending = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(pending, sock);

  std::string ghost_path = base + "/fresh/ghost";
  int ghost = make_file(ghost_path, "deleted-but-open", O_RDWR);
  RT_CHECK(unlink(ghost_path.c_str()) == 0, "unlink the ghost");

  std::string watched = base + "/watched/target";
  close(make_file(watched, "watched", O_WRONLY));
  int inotify = inotify_init1(IN_NONBLOCK);
  RT_CHECK(inotify >= 0 && inotify_add_watch(inotify, watched.c_str(), IN_OPEN) == 1, "inotify watch");

  std::string cwd = base + "/cwd";
  RT_CHECK(mkdir(cwd.c_str(), 0755) == 0 || errno == EEXIST, "mkdir cwd");
  RT_CHECK(chdir(cwd.c_str()) == 0, "chdir");
  close(make_file("here.txt", "right here", O_WRONLY));

  rt::block_term();
  rt::ready();
  rt::wait_term();

  // Only reads: root.sh restores the same images more than once.
  char now[PATH_MAX];
  RT_CHECK(getcwd(now, sizeof now) && cwd == now, "cwd is %s, want %s", now, cwd.c_str());
  int here = open("here.txt", O_RDONLY);
  RT_CHECK(here >= 0 && read_n(here, 64) == "right here", "here.txt in the working directory");

  RT_CHECK(lseek(reg, 0, SEEK_CUR) == 6, "regular file at offset %ld", long(lseek(reg, 0, SEEK_CUR)));
  RT_CHECK(read_n(reg, 4) == "6789", "regular file data");
  RT_CHECK((fcntl(reg, F_GETFL) & O_ACCMODE) == O_RDWR, "regular file access mode");

  RT_CHECK(std::string(mapped, kMapped) == pattern, "the mapped file's content");

  RT_CHECK(read_n(fifo, 64) == "through-the-fifo", "the FIFO's data");
  struct stat by_fd, by_path;
  RT_CHECK(fstat(fifo, &by_fd) == 0 && stat(fifo_path.c_str(), &by_path) == 0 && by_fd.st_ino == by_path.st_ino,
           "the FIFO is not the one at %s", fifo_path.c_str());

  RT_CHECK(ux::sock_name(listener) == sock, "the listener is named '%s', not %s", ux::sock_name(listener).c_str(),
           sock.c_str());
  RT_CHECK(ux::recv_exact(served, 7) == "request", "the accepted connection's data");
  RT_CHECK(ux::peer_name(client) == sock, "the client's peer is '%s'", ux::peer_name(client).c_str());
  int late = ux::accept_within(listener);
  ux::send_all(pending, "late");
  RT_CHECK(ux::recv_exact(late, 4) == "late", "the pending connection");
  // A new client, by the name, in this root: the socket file is there.
  int fresh = socket(AF_UNIX, SOCK_STREAM, 0);
  ux::connect_to(fresh, sock);
  int fresh_served = ux::accept_within(listener);
  ux::send_all(fresh, "new");
  RT_CHECK(ux::recv_exact(fresh_served, 3) == "new", "a new connection by name");

  char data[32] = {};
  RT_CHECK(pread(ghost, data, sizeof data, 0) == 16 && std::string(data) == "deleted-but-open",
           "the deleted file's data");
  RT_CHECK(fstat(ghost, &by_fd) == 0 && by_fd.st_nlink == 0, "the deleted file has %ld links",
           long(by_fd.st_nlink));
  RT_CHECK(access(ghost_path.c_str(), F_OK) != 0, "the deleted file came back at %s", ghost_path.c_str());

  // The watch is on the file this root shows there.
  close(open(watched.c_str(), O_RDONLY));
  pollfd p{inotify, POLLIN, 0};
  RT_CHECK(poll(&p, 1, 10000) == 1, "no inotify event within 10 s");
  alignas(inotify_event) char ev[sizeof(inotify_event) + NAME_MAX + 1];
  RT_CHECK(read(inotify, ev, sizeof ev) >= ssize_t(sizeof(inotify_event)), "read the inotify event");
  auto* e = reinterpret_cast<inotify_event*>(ev);
  RT_CHECK(e->wd == 1 && (e->mask & IN_OPEN), "inotify event wd %d mask %x", e->wd, e->mask);
  rt::pass();
}
