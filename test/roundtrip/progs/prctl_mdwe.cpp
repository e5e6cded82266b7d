// Memory-deny-write-execute (PR_SET_MDWE): the dump must be refused by name
// (the parasite needs a writable code mapping, which MDWE refuses and
// nothing can lift), and the program must run on untouched.
#include "testlib.h"

#include <sys/prctl.h>

namespace {
constexpr int kPrSetMdwe = 65, kPrGetMdwe = 66, kRefuseExecGain = 1;
}

int main() {
  rt::block_term();
  RT_CHECK(prctl(kPrSetMdwe, kRefuseExecGain, 0, 0, 0) == 0, "PR_SET_MDWE: %s", strerror(errno));
  rt::ready();
  rt::wait_term();
  int mdwe = prctl(kPrGetMdwe, 0, 0, 0, 0);
  RT_CHECK(mdwe == kRefuseExecGain, "PR_GET_MDWE is %d, want %d", mdwe, kRefuseExecGain);
  rt::pass();
}
