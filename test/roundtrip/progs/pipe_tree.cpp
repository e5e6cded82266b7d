// A parent and its child talking over two pipes: the child answers each
// number with the next one.  At dump five questions are answered but not
// read (queued in the answers pipe) and 20 KiB are queued the other way;
// after restore the parent reads the answers and the two go on talking.
#include <sys/wait.h>

#include "pipelib.h"

namespace {

constexpr size_t kBulk = 20 * 1024;

void send(int fd, uint32_t n) { rt::write_all(fd, std::string(reinterpret_cast<char*>(&n), 4), "a number"); }

uint32_t receive(int fd, const char* what) {
  std::string s = rt::read_exactly(fd, 4, what);
  uint32_t n;
  memcpy(&n, s.data(), 4);
  return n;
}

// The child: answers n with n + 1 until 0, then reads the bulk bytes.
[[noreturn]] void child(int questions, int answers) {
  for (;;) {
    std::string s(4, '\0');
    ssize_t k = read(questions, s.data(), 4);
    if (k != 4) _exit(10);
    uint32_t n;
    memcpy(&n, s.data(), 4);
    if (n == 0) break;
    send(answers, n + 1);
  }
  std::string bulk = rt::read_exactly(questions, kBulk, "the bulk bytes");
  for (size_t i = 0; i < kBulk; i++)
    if (bulk[i] != rt::pattern_byte(i, 5)) _exit(11);
  char c;
  _exit(read(questions, &c, 1) == 0 ? 0 : 12);  // EOF: the parent closed its end
}

}  // namespace

int main() {
  int q[2], a[2];
  RT_CHECK(pipe(q) == 0 && pipe(a) == 0, "pipe");
  pid_t pid = fork();
  RT_CHECK(pid >= 0, "fork");
  if (pid == 0) {
    close(q[1]);
    close(a[0]);
    child(q[0], a[1]);
  }
  close(q[0]);
  close(a[1]);
  for (uint32_t n = 1; n <= 100; n++) {
    send(q[1], n);
    RT_CHECK(receive(a[0], "an answer") == n + 1, "a wrong answer before the dump");
  }
  for (uint32_t n = 1000; n < 1005; n++) send(q[1], n);
  // Every answer is queued before the dump.
  double deadline = rt::now_seconds() + 30;
  while (rt::queued(a[0]) < 20) RT_CHECK(rt::now_seconds() < deadline, "the child does not answer");

  rt::block_term();
  rt::ready();
  rt::wait_term();

  for (uint32_t n = 1000; n < 1005; n++) RT_CHECK(receive(a[0], "a queued answer") == n + 1, "a wrong queued answer");
  for (uint32_t n = 2000; n < 2100; n++) {
    send(q[1], n);
    RT_CHECK(receive(a[0], "an answer") == n + 1, "a wrong answer after restore");
  }
  send(q[1], 0);
  rt::write_all(q[1], rt::pattern(kBulk, 5), "the bulk bytes");
  close(q[1]);
  char c;
  RT_CHECK(read(a[0], &c, 1) == 0, "the child's answers pipe is not at EOF");
  int status;
  RT_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  rt::pass();
}
