// The modes of ptys made in the tree, both ends in one process:
//   pty A  slave in raw mode, opened non-blocking and made exclusive
//          (TIOCEXCL); master in packet mode (TIOCPKT); input queued for
//          the slave (bytes raw mode leaves alone: \r, ^C) and output queued
//          for the master
//   pty B  a master never unlocked (no slave can be opened), its own window
//          size
// After the restore each is as it was and the queued bytes are read once.
#include "testlib.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <string>

namespace {

const std::string kInput("a\rb\x03\n", 5);
const std::string kOutput = "xyz\n";

void write_all(int fd, const std::string& s) {
  RT_CHECK(write(fd, s.data(), s.size()) == ssize_t(s.size()), "write: %s", strerror(errno));
}

std::string read_once(int fd) {
  struct pollfd p {fd, POLLIN, 0};
  RT_CHECK(poll(&p, 1, 5000) == 1, "nothing to read");
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf));
  RT_CHECK(n > 0, "read: %s", strerror(errno));
  return std::string(buf, size_t(n));
}

bool nothing_more(int fd) {
  struct pollfd p {fd, POLLIN, 0};
  return poll(&p, 1, 200) == 0;
}

// Waits until `fd`'s line discipline holds `n` bytes (raw mode: FIONREAD
// counts them all).
void await_queued(int fd, int n) {
  double deadline = rt::now_seconds() + 20;
  int have = 0;
  while (ioctl(fd, FIONREAD, &have) == 0 && have < n) {
    RT_CHECK(rt::now_seconds() < deadline, "%d bytes queued, not %d", have, n);
    usleep(1000);
  }
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM});
  int a = posix_openpt(O_RDWR | O_NOCTTY);
  RT_CHECK(a >= 0 && unlockpt(a) == 0, "posix_openpt");
  int a_slave = open(ptsname(a), O_RDWR | O_NOCTTY | O_NONBLOCK);
  RT_CHECK(a_slave >= 0, "open the slave: %s", strerror(errno));
  struct termios raw;
  RT_CHECK(tcgetattr(a_slave, &raw) == 0, "tcgetattr");
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  RT_CHECK(tcsetattr(a_slave, TCSANOW, &raw) == 0, "tcsetattr");
  RT_CHECK(ioctl(a_slave, TIOCEXCL) == 0, "TIOCEXCL");
  int on = 1;
  RT_CHECK(ioctl(a, TIOCPKT, &on) == 0, "TIOCPKT");
  write_all(a, kInput);
  write_all(a_slave, kOutput);
  await_queued(a_slave, int(kInput.size()));
  await_queued(a, int(kOutput.size()));

  int b = posix_openpt(O_RDWR | O_NOCTTY);
  RT_CHECK(b >= 0, "posix_openpt");
  struct winsize ws {12, 34, 56, 78};
  RT_CHECK(ioctl(b, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");
  rt::ready();
  rt::wait_term();

  int pkt = 0, excl = 0, locked = 0;
  RT_CHECK(ioctl(a, TIOCGPKT, &pkt) == 0 && pkt == 1, "packet mode is off");
  RT_CHECK(ioctl(a_slave, TIOCGEXCL, &excl) == 0 && excl == 1, "the slave is not exclusive");
  RT_CHECK(fcntl(a_slave, F_GETFL) & O_NONBLOCK, "the slave lost O_NONBLOCK");
  struct termios now;
  RT_CHECK(tcgetattr(a_slave, &now) == 0, "tcgetattr");
  RT_CHECK(now.c_lflag == raw.c_lflag && now.c_iflag == raw.c_iflag && now.c_oflag == raw.c_oflag,
           "the slave is not in raw mode any more");
  std::string in = read_once(a_slave);
  RT_CHECK(in == kInput, "the slave read %zu bytes \"%s\"", in.size(), in.c_str());
  RT_CHECK(nothing_more(a_slave), "the slave has more to read");
  std::string out = read_once(a);
  RT_CHECK(out == std::string(1, TIOCPKT_DATA) + kOutput, "the master read %zu bytes", out.size());
  RT_CHECK(nothing_more(a), "the master has more to read");
  // Both ways still work.
  write_all(a, "q");
  RT_CHECK(read_once(a_slave) == "q", "the slave does not get new input");

  RT_CHECK(ioctl(b, TIOCGPTLCK, &locked) == 0 && locked == 1, "pty B is unlocked");
  struct winsize bnow {};
  RT_CHECK(ioctl(b, TIOCGWINSZ, &bnow) == 0 && bnow.ws_row == 12 && bnow.ws_col == 34 && bnow.ws_xpixel == 56 &&
               bnow.ws_ypixel == 78,
           "pty B's window size is %ux%u", bnow.ws_col, bnow.ws_row);
  rt::pass();
}
