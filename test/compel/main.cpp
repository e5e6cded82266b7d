// The compel test driver: `compel_tests NAME [-v]` runs one test,
// `compel_tests --list` names them all.  Exit 0 on success, 1 on failure,
// 77 when the test cannot run here.  The driver is a child subreaper so
// that every process a test starts ends up reaped here.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "harness.h"
#include "registry.h"

namespace ctest {
std::map<std::string, TestFn>& registry() {
  static std::map<std::string, TestFn> tests;
  return tests;
}
}  // namespace ctest

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--list") == 0) {
    for (auto& [name, fn] : ctest::registry()) std::cout << name << "\n";
    return 0;
  }
  if (argc < 2 || !ctest::registry().count(argv[1])) {
    std::cerr << "usage: " << argv[0] << " TEST [-v] | --list\n";
    return 2;
  }
  ctest::set_verbose(argc > 2 && std::strcmp(argv[2], "-v") == 0);
  syscall(SYS_close_range, 3, ~0U, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  try {
    ctest::registry()[argv[1]]();
    std::cout << "PASS " << argv[1] << "\n";
  } catch (const ctest::Skip& e) {
    std::cout << "SKIP " << argv[1] << ": " << e.what() << "\n";
    rc = 77;
  } catch (const std::exception& e) {
    std::cout << "FAIL " << argv[1] << ": " << e.what() << "\n";
    rc = 1;
  }
  ctest::kill_leftovers();
  return rc;
}
