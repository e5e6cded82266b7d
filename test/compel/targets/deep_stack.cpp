// A main thread at the very bottom of its stack (a 512 KiB buffer on it),
// alone: no thread has room below its stack pointer for its cure frames,
// so compel borrows the top of this stack for a moment.  With "mdwe" the
// infection is then refused (memory-deny-write-execute) after that
// borrowing.  On "check" the target verifies that the top of its stack
// (its argv and environment, and the buffer) is as it was, and exits.
#include <sys/prctl.h>

#include <string>
#include <vector>

#include "target.h"

extern char** environ;

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "mdwe" && prctl(65 /* PR_SET_MDWE */, 1, 0, 0, 0) != 0)
    target::fail("PR_SET_MDWE: %s", strerror(errno));
  std::vector<std::string> strings;
  for (int i = 0; i < argc; i++) strings.push_back(argv[i]);
  for (char** e = environ; *e; e++) strings.push_back(*e);
  volatile unsigned char buf[512 * 1024];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = static_cast<unsigned char>(i * 7 + 3);
  // (Before the stack goes down: say's buffer would grow it again; the
  // driver waits for the read below.)
  target::say("ready");
  // Down to a few hundred bytes above the stack mapping's start.
  unsigned long start = 0, end = 0;
  FILE* maps = fopen("/proc/self/maps", "r");
  char line[512];
  while (maps && fgets(line, sizeof(line), maps))
    if (strstr(line, "[stack]")) sscanf(line, "%lx-%lx", &start, &end);
  if (maps) fclose(maps);
  unsigned long sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  if (!start || sp < start) target::fail("no [stack] below the stack pointer");
  size_t gap = sp - start > 2048 ? sp - start - 512 : 0;
  volatile unsigned char* fill = static_cast<volatile unsigned char*>(__builtin_alloca(gap));
  for (size_t off = 0; off < gap; off += 256) fill[gap - 1 - off] = 1;  // from the top down: inside the mapping
  // Blocked right here (read_command's own buffer would push the stack
  // further down first).
  char cmd[8] = {};
  for (size_t got = 0; got < 6;) {
    ssize_t r = read(target::kControlFd, cmd + got, 6 - got);
    if (r <= 0) target::fail("no command");
    got += size_t(r);
  }
  if (std::string(cmd) != "check\n") target::fail("read \"%s\"", cmd);
  size_t n = 0;
  for (int i = 0; i < argc; i++, n++)
    if (strings[n] != argv[i]) target::fail("argv[%d] changed: \"%s\"", i, argv[i]);
  for (char** e = environ; *e; e++, n++)
    if (n >= strings.size() || strings[n] != *e) target::fail("the environment changed at \"%s\"", *e);
  for (size_t i = 0; i < sizeof(buf); i++)
    if (buf[i] != static_cast<unsigned char>(i * 7 + 3)) target::fail("stack byte %zu changed", i);
  return 0;
}
