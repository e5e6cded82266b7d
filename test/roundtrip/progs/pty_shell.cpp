// A pty made in the tree, with a shell-like reader on its slave: the parent
// holds the master (a terminal emulator), the child is a session leader
// with the slave as its controlling terminal, reading lines in canonical
// mode with echo on and answering each one, then printing a prompt.
//
// Left queued across the dump: the prompt and the echo of a partial line
// (output the master has not read) and the partial line itself (input the
// child has not read: canonical mode waits for its newline).  After the
// restore the parent finds exactly that output, ends the line and gets the
// whole line answered; the termios and window size are as set; the child
// still has the (new) slave as its controlling terminal, is its foreground
// group, and gets SIGWINCH when the parent resizes the terminal.
//
// CKPT_TEST_PTY=job: the reader is a foreground job instead, in a process
// group of its own, forked by the session leader (a shell waiting for it):
// after the restore it must have the terminal too (the leader takes it
// before forking it again) and be the foreground group again.
#include "testlib.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

#include <string>

namespace {

const char kPrompt[] = "ps1> ";
constexpr unsigned short kRows = 41, kCols = 103;
constexpr cc_t kIntr = 0x02;  // ^B instead of ^C: a termios of its own

void write_all(int fd, const std::string& s) {
  for (size_t at = 0; at < s.size();) {
    ssize_t n = write(fd, s.data() + at, s.size() - at);
    RT_CHECK(n > 0, "write: %s", strerror(errno));
    at += size_t(n);
  }
}

// Reads the master byte by byte until the text read ends with `end`, so
// that nothing after it is taken; bounded.
std::string read_until(int master, const std::string& end) {
  std::string got;
  double deadline = rt::now_seconds() + 20;
  while (got.size() < end.size() || got.compare(got.size() - end.size(), end.size(), end) != 0) {
    struct pollfd p {master, POLLIN, 0};
    RT_CHECK(rt::now_seconds() < deadline, "no \"%s\" from the terminal, got \"%s\"", end.c_str(), got.c_str());
    if (poll(&p, 1, 100) <= 0) continue;
    char c;
    ssize_t n = read(master, &c, 1);
    RT_CHECK(n == 1, "read of the master: %s", n < 0 ? strerror(errno) : "end");
    got += c;
  }
  return got;
}

// What the master has to read now, without waiting for more.
std::string read_now(int master) {
  std::string got;
  char buf[256];
  struct pollfd p {master, POLLIN, 0};
  while (poll(&p, 1, 200) > 0 && (p.revents & POLLIN)) {
    ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  return got;
}

// The master's own queue holds `n` bytes: the echo has been made.
void await_queued(int master, int n) {
  double deadline = rt::now_seconds() + 20;
  int have = 0;
  while (ioctl(master, FIONREAD, &have) == 0 && have < n) {
    RT_CHECK(rt::now_seconds() < deadline, "the terminal's output has %d bytes, not %d", have, n);
    usleep(1000);
  }
}

std::string check_ctty(int slave, pid_t leader) {
  struct stat st;
  if (fstat(slave, &st) != 0) return "fstat";
  FILE* f = fopen("/proc/self/stat", "r");
  if (!f) return "no /proc/self/stat";
  char buf[1024] = {};
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* after = strrchr(buf, ')');
  char state;
  int ppid, pgrp, session, tty_nr;
  if (!after || sscanf(after + 2, "%c %d %d %d %d", &state, &ppid, &pgrp, &session, &tty_nr) != 5) return "stat";
  if (unsigned(tty_nr) != unsigned(st.st_rdev)) return "tty_nr " + std::to_string(tty_nr);
  if (session != leader) return "session " + std::to_string(session) + ", not " + std::to_string(leader);
  pid_t sid = 0;
  if (ioctl(slave, TIOCGSID, &sid) != 0 || sid != leader) return "TIOCGSID";
  if (tcgetpgrp(slave) != getpgrp()) return "not the foreground group";
  int fd = open("/dev/tty", O_RDWR);
  if (fd < 0) return "cannot open /dev/tty";
  close(fd);
  return "";
}

[[noreturn]] void read_lines(int slave, pid_t leader);

// The child: a session leader reading lines from its terminal, or (`job`)
// running a foreground job that does.
[[noreturn]] void session_leader(const char* slave_path, bool job) {
  RT_CHECK(setsid() > 0, "setsid");
  int slave = open(slave_path, O_RDWR);  // without O_NOCTTY: it becomes the controlling terminal
  RT_CHECK(slave >= 0, "open %s: %s", slave_path, strerror(errno));
  RT_CHECK(ioctl(slave, TIOCSCTTY, 0) == 0 || errno == EPERM, "TIOCSCTTY");
  rt::block_signals({SIGWINCH});
  pid_t test = getppid();
  if (!job) {
    kill(test, SIGUSR2);
    read_lines(slave, getpid());
  }
  pid_t leader = getpid();
  pid_t reader = fork();
  RT_CHECK(reader >= 0, "fork");
  if (reader == 0) {
    RT_CHECK(setpgid(0, 0) == 0, "setpgid");
    rt::await_signal(SIGUSR2, "the shell's tcsetpgrp");
    kill(test, SIGUSR2);
    read_lines(slave, leader);
  }
  setpgid(reader, reader);
  rt::block_signals({SIGTTOU});
  RT_CHECK(tcsetpgrp(slave, reader) == 0, "tcsetpgrp: %s", strerror(errno));
  kill(reader, SIGUSR2);
  int status;
  RT_CHECK(waitpid(reader, &status, 0) == reader, "waitpid");
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
}

// Answers each line read from the terminal.
[[noreturn]] void read_lines(int slave, pid_t leader) {
  char line[512];
  for (;;) {
    ssize_t n = read(slave, line, sizeof(line) - 1);
    if (n <= 0) _exit(3);
    std::string l(line, size_t(n));
    if (!l.empty() && l.back() == '\n') l.pop_back();
    std::string answer;
    if (l == "exit") _exit(0);
    if (l == "check") {
      std::string bad = check_ctty(slave, leader);
      answer = bad.empty() ? "ok" : "bad: " + bad;
    } else if (l == "winch") {
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, SIGWINCH);
      timespec ts{10, 0};
      answer = sigtimedwait(&one, nullptr, &ts) == SIGWINCH ? "resized" : "no SIGWINCH";
    } else {
      answer = "echo:" + l;
    }
    write_all(slave, answer + "\n" + kPrompt);
  }
}

}  // namespace

int main() {
  rt::block_signals({SIGTERM, SIGUSR2});
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  RT_CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "posix_openpt: %s", strerror(errno));
  std::string slave_path = ptsname(master);
  struct termios t;
  RT_CHECK(tcgetattr(master, &t) == 0, "tcgetattr");
  t.c_iflag |= ICRNL;
  t.c_oflag |= OPOST | ONLCR;
  t.c_lflag |= ICANON | ECHO | ISIG;
  t.c_cc[VINTR] = kIntr;
  RT_CHECK(tcsetattr(master, TCSANOW, &t) == 0, "tcsetattr");
  struct winsize ws {kRows, kCols, 0, 0};
  RT_CHECK(ioctl(master, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");

  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) {
    close(master);
    const char* variant = getenv("CKPT_TEST_PTY");
    session_leader(slave_path.c_str(), variant && strcmp(variant, "job") == 0);
  }
  rt::await_signal(SIGUSR2, "the reader");
  write_all(master, "line1\n");
  read_until(master, "echo:line1\r\n");
  // Left queued: the prompt, the echo of "half", and "half" for the reader.
  write_all(master, "half");
  await_queued(master, int(strlen(kPrompt) + 4));
  rt::ready();
  rt::wait_term();

  std::string queued = read_now(master);
  RT_CHECK(queued == std::string(kPrompt) + "half", "the terminal's queued output is \"%s\"", queued.c_str());
  write_all(master, " done\n");
  std::string rest = read_until(master, "echo:half done\r\n");
  RT_CHECK(rest == " done\r\necho:half done\r\n", "the reader answered \"%s\"", rest.c_str());
  read_until(master, kPrompt);

  struct termios now;
  RT_CHECK(tcgetattr(master, &now) == 0, "tcgetattr");
  RT_CHECK(now.c_iflag == t.c_iflag && now.c_oflag == t.c_oflag && now.c_cflag == t.c_cflag &&
               now.c_lflag == t.c_lflag && memcmp(now.c_cc, t.c_cc, NCCS) == 0,
           "the termios changed (lflag %#x, was %#x; VINTR %#x)", now.c_lflag, t.c_lflag, now.c_cc[VINTR]);
  struct winsize wnow {};
  RT_CHECK(ioctl(master, TIOCGWINSZ, &wnow) == 0 && wnow.ws_row == kRows && wnow.ws_col == kCols,
           "the window size is %ux%u", wnow.ws_col, wnow.ws_row);

  write_all(master, "check\n");
  std::string verdict = read_until(master, kPrompt);
  RT_CHECK(verdict == "check\r\nok\r\n" + std::string(kPrompt), "the reader's terminal: \"%s\"", verdict.c_str());
  struct winsize bigger {kRows + 1, kCols + 1, 0, 0};
  RT_CHECK(ioctl(master, TIOCSWINSZ, &bigger) == 0, "TIOCSWINSZ");
  write_all(master, "winch\n");
  verdict = read_until(master, kPrompt);
  RT_CHECK(verdict == "winch\r\nresized\r\n" + std::string(kPrompt), "after a resize: \"%s\"", verdict.c_str());

  write_all(master, "exit\n");
  int status;
  RT_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the reader ended with status %#x", status);
  rt::pass();
}
