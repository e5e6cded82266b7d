// The peer outside the dumped tree of the established-TCP round trips
// (started by tcp_outside.sh, tcp_veth.sh ...; never dumped itself).  It
// judges the connections from its side and prints "PEER PASS" or
// "PEER FAIL: why", its exit status saying the same:
//
//   rt_tcp_peer stream (--listen|--connect) ADDR PORT [--conns K] [--third]
//               [--ctl FIFO] [--go-after N] [--expect-extra N]
//       tcplib.h's streams on K connections (accepted, or made to a server
//       in the tree).  It reads nothing of B until N lines "restore" came on
//       FIFO (the driver's --before-restore writes them; N 0: at once), so
//       that B is still queued at dump time.  --third: once every stream
//       ended, one more connection to ADDR PORT ("third?", "third!").
//       --expect-extra N: expects N bytes more than the tree side sends
//       (to see this check fail, and with it the test).
//   rt_tcp_peer ping --listen ADDR PORT --ctl FIFO --progress FILE
//       Accepts one connection and sends numbered 16-byte messages, each
//       echoed before the next (paced by 2 ms); FILE holds the number of
//       echoes so far.  On "stop" on FIFO: shuts down, reads to EOF, prints
//       the longest time between two echoes ("max stall N ms").
//
// Every error is a failure: a reset (ECONNRESET), a byte off the pattern,
// a stream too short or too long, a stall beyond the limits.
#include "tcplib.h"

#include <sys/prctl.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace rt;
using namespace rt::tcp;

namespace {

struct Args {
  std::string mode, addr;
  int port = 0;
  bool listen = false, third = false;
  int conns = 1, go_after = 0;
  size_t extra = 0;
  std::string ctl, progress;
};

[[noreturn]] void peer_fail(const std::string& why) {
  printf("PEER FAIL: %s\n", why.c_str());
  fflush(stdout);
  _exit(1);
}

int ctl_fd = -1;
std::string ctl_buffer;

// The next whole line of the control FIFO, "" if none yet.
std::string ctl_line() {
  char buf[256];
  ssize_t n;
  while ((n = read(ctl_fd, buf, sizeof(buf))) > 0) ctl_buffer.append(buf, size_t(n));
  size_t nl = ctl_buffer.find('\n');
  if (nl == std::string::npos) return "";
  std::string line = ctl_buffer.substr(0, nl);
  ctl_buffer.erase(0, nl + 1);
  return line;
}

void open_ctl(const std::string& path) {
  if (path.empty()) return;
  // Read-write: the FIFO never reads EOF, and a writer never blocks.
  ctl_fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (ctl_fd < 0) peer_fail("cannot open the control FIFO " + path + ": " + strerror(errno));
}

// Waits (bounded) for `count` lines `word` on the control FIFO.
void await_ctl(const std::string& word, int count, double seconds) {
  double deadline = now_seconds() + seconds;
  int seen = 0;
  while (seen < count) {
    std::string line;
    while (seen < count && !(line = ctl_line()).empty())
      if (line == word) seen++;
    if (seen >= count) break;
    double left = deadline - now_seconds();
    if (left <= 0) peer_fail("no '" + word + "' on the control FIFO within " + std::to_string(int(seconds)) + " s");
    pollfd p{ctl_fd, POLLIN, 0};
    poll(&p, 1, int(left * 1000) + 1);
  }
}

int make_socket(const Args& a) {
  int fd = socket(family_of(a.addr), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) peer_fail(std::string("socket: ") + strerror(errno));
  inet::setopt_int(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
  // Small: most of what the tree sends before the dump stays in its send
  // queue, part of it sent and waiting for an acknowledgement.
  inet::setopt_int(fd, SOL_SOCKET, SO_RCVBUF, 16 * 1024);
  return fd;
}

// A connection to the server in the tree, which may not listen yet (the
// driver starts it after us): tried again for 30 s.
int connect_retrying(const Args& a) {
  double deadline = now_seconds() + 30;
  for (;;) {
    int fd = make_socket(a);
    socklen_t len;
    sockaddr_storage ss = inet::address(family_of(a.addr), a.addr.c_str(), a.port, &len);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return fd;
    int err = errno;
    close(fd);
    if (now_seconds() > deadline)
      peer_fail("cannot connect to " + a.addr + " port " + std::to_string(a.port) + ": " + strerror(err));
    usleep(20000);
  }
}

int accept_within(int listener, double seconds) {
  if (!readable_within(listener, seconds)) peer_fail("no connection within " + std::to_string(int(seconds)) + " s");
  int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) peer_fail(std::string("accept: ") + strerror(errno));
  return fd;
}

std::vector<int> connections(const Args& a) {
  std::vector<int> fds;
  if (a.listen) {
    int l = make_socket(a);
    inet::setopt_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
    inet::bind_to(l, family_of(a.addr), a.addr.c_str(), a.port);
    if (listen(l, 16) != 0) peer_fail(std::string("listen: ") + strerror(errno));
    printf("listening on %s port %d\n", a.addr.c_str(), a.port);
    fflush(stdout);
    for (int i = 0; i < a.conns; i++) fds.push_back(accept_within(l, 60));
    close(l);
  } else {
    for (int i = 0; i < a.conns; i++) fds.push_back(connect_retrying(a));
  }
  return fds;
}

// The third connection after the restore: the restored listener accepts it.
void third_connection(const Args& a) {
  int fd = connect_retrying(a);
  const char ask[] = "third?";
  if (send(fd, ask, 6, MSG_NOSIGNAL) != 6) peer_fail(std::string("third connection: write: ") + strerror(errno));
  std::string got;
  char buf[64];
  while (got.size() < 6) {
    if (!readable_within(fd, 30)) peer_fail("third connection: no answer within 30 s");
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) peer_fail("third connection: " + std::string(n == 0 ? "EOF" : strerror(errno)) + " after '" + got + "'");
    got.append(buf, size_t(n));
  }
  if (got != "third!") peer_fail("third connection: answered '" + got + "'");
  close(fd);
  printf("third connection answered\n");
}

void stream_mode(const Args& a) {
  std::vector<int> fds = connections(a);
  for (int fd : fds) write_stream(fd, kSeedA, 0, kQueued);
  printf("%zu connections, %zu bytes written on each\n", fds.size(), kQueued);
  fflush(stdout);
  if (a.go_after > 0) await_ctl("restore", a.go_after, 600);
  std::vector<Stream> streams = streams_of(fds, kSeedA, kSeedB);
  std::vector<Stream*> ptrs;
  for (Stream& s : streams) ptrs.push_back(&s);
  // The rest of A only once the tree side wrote after its restore.
  bool ok = pump(ptrs, 300, [](Stream& s) {
    if (s.out_end == 0 && s.got > kQueued) s.out_end = kTotal;
  });
  if (!ok)
    for (Stream& s : streams)
      if (!s.error.empty()) peer_fail(s.error);
  for (Stream& s : streams)
    if (s.got != kTotal + a.extra)
      peer_fail(s.name + ": the stream from the tree ended after " + std::to_string(s.got) + " bytes, want " +
                std::to_string(kTotal + a.extra));
  printf("every stream byte-exact: %zu bytes each way on each connection, no reset\n", kTotal);
  for (int fd : fds) close(fd);
  if (a.third) third_connection(a);
  printf("PEER PASS\n");
  fflush(stdout);
  _exit(0);
}

// Reads exactly n bytes within `seconds`; false with `why` on EOF, error, timeout.
bool read_exact(int fd, char* buf, size_t n, double seconds, std::string* why) {
  double deadline = now_seconds() + seconds;
  size_t got = 0;
  while (got < n) {
    double left = deadline - now_seconds();
    if (left <= 0) return *why = "nothing within " + std::to_string(int(seconds)) + " s", false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left * 1000) + 1) <= 0) continue;
    ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
    if (r == 0) return *why = "EOF", false;
    if (r < 0 && errno != EAGAIN && errno != EINTR) return *why = strerror(errno), false;
    if (r > 0) got += size_t(r);
  }
  return true;
}

void ping_mode(const Args& a) {
  std::vector<int> fds = connections(a);
  int fd = fds[0];
  inet::setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  int progress = open(a.progress.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (progress < 0) peer_fail("cannot open " + a.progress);
  double last = now_seconds(), max_gap = 0;
  uint64_t echoes = 0;
  for (;;) {
    if (ctl_line() == "stop") break;
    char msg[16], back[16];
    memcpy(msg, &echoes, 8);
    fill(kSeedA, size_t(echoes) * 16 + 8, msg + 8, 8);
    if (send(fd, msg, 16, MSG_NOSIGNAL) != 16)
      peer_fail("write of message " + std::to_string(echoes) + ": " + strerror(errno));
    std::string why;
    if (!read_exact(fd, back, 16, 120, &why)) peer_fail("echo of message " + std::to_string(echoes) + ": " + why);
    if (memcmp(msg, back, 16) != 0) peer_fail("echo of message " + std::to_string(echoes) + " differs");
    double t = now_seconds();
    max_gap = std::max(max_gap, t - last);
    last = t;
    echoes++;
    char line[32];
    int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)echoes);
    (void)!pwrite(progress, line, size_t(n), 0);
    pollfd p{ctl_fd, POLLIN, 0};
    poll(&p, 1, 2);  // pacing, and a look at the control FIFO
  }
  if (shutdown(fd, SHUT_WR) != 0) peer_fail(std::string("shutdown: ") + strerror(errno));
  char c;
  std::string why;
  if (read_exact(fd, &c, 1, 60, &why)) peer_fail("data after the last echo");
  if (why != "EOF") peer_fail("after the last echo: " + why);
  printf("%llu echoes, max stall %.0f ms\n", (unsigned long long)echoes, max_gap * 1000);
  printf("PEER PASS\n");
  fflush(stdout);
  _exit(0);
}

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) peer_fail("usage: rt_tcp_peer stream|ping ...");
  a.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    std::string o = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) peer_fail("option " + o + " needs a value");
      return argv[++i];
    };
    if (o == "--listen" || o == "--connect") {
      a.listen = o == "--listen";
      a.addr = next();
      a.port = std::stoi(next());
    } else if (o == "--conns") a.conns = std::stoi(next());
    else if (o == "--third") a.third = true;
    else if (o == "--ctl") a.ctl = next();
    else if (o == "--go-after") a.go_after = std::stoi(next());
    else if (o == "--expect-extra") a.extra = std::stoul(next());
    else if (o == "--progress") a.progress = next();
    else peer_fail("unknown option " + o);
  }
  if (a.addr.empty()) peer_fail("--listen or --connect is needed");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // the script that started us is gone: so are we
  alarm(900);
  Args a = parse(argc, argv);
  open_ctl(a.ctl);
  if (a.mode == "stream") stream_mode(a);
  if (a.mode == "ping") {
    if (ctl_fd < 0 || a.progress.empty()) peer_fail("ping needs --ctl and --progress");
    ping_mode(a);
  }
  peer_fail("unknown mode " + a.mode);
}
