// A process under seccomp: `filter` kills it on personality(2), which the
// parasite calls (and this program never does); `strict` allows nothing
// but read, write, exit and sigreturn.  compel must suspend seccomp while
// it works and leave it in force afterwards.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "target.h"

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "filter";
  if (mode == "filter") {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      target::fail("cannot install the seccomp filter");
    target::say("ready");
    std::string cmd = target::read_command();
    return cmd == "exit" ? 0 : 1;
  }
  target::say("ready");
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) target::fail("cannot enter strict seccomp");
  char buf[16];
  long n = syscall(SYS_read, target::kControlFd, buf, sizeof(buf));
  syscall(SYS_exit, n == 5 && buf[0] == 'e' ? 0 : 1);
}
